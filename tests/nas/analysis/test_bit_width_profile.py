from __future__ import annotations

from nas.analysis import bit_width_profile
from spaces import load_space


def test_profile_lists_layers_in_network_order_with_fixed_ends_and_ic_layers() -> None:
    space = load_space("tiny-digits")
    row = {label: str(value) for label, value in space.uniform((4, 4)).items()}  # a trajectory row holds strings
    row[space.bit_dimensions[0].label] = "W2A2"
    profile = bit_width_profile(space, row)
    assert len(profile.layer_labels) == len(profile.w_bits) == len(profile.a_bits)
    assert profile.layer_labels[0] == "conv1" and profile.layer_labels[-1] == "fc"
    first_searched = space.bit_dimensions[0].layers[0]
    position = profile.layer_labels.index(first_searched)
    assert (profile.w_bits[position], profile.a_bits[position]) == (2, 2)
    assert len(profile.exit_layers) == len(space.exit_dimensions)
    for exit_layer, dim in zip(profile.exit_layers, space.exit_dimensions, strict=True):
        assert exit_layer in profile.layer_labels and exit_layer.startswith(f"{row[dim.label]}.")
