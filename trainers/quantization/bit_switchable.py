"""What quantized layers share: a PACT quantizer on the input and switchable (W, A) bit-widths."""

from __future__ import annotations

from trainers.quantization.bits import check_bits
from trainers.quantization.pact import PACTQuantizer


class BitSwitchable:
    """Mixin for ``nn.Module`` layers with ``w_bits`` and an input :class:`PACTQuantizer` (``act_quant``).

    Call :meth:`_init_bits` after the module's own ``__init__``.
    """

    act_quant: PACTQuantizer
    w_bits: int | None

    def _init_bits(self, w_bits: int | None, a_bits: int | None, alpha_init: float) -> None:
        self.act_quant = PACTQuantizer(a_bits, alpha_init)
        self.w_bits = check_bits(w_bits)

    @property
    def a_bits(self) -> int | None:
        """Bit-width of the input activations (stored on the PACT quantizer)."""
        return self.act_quant.bits

    def set_bits(self, w_bits: int | None, a_bits: int | None) -> None:
        """Switch the weight and input-activation bit-widths (e.g. when a supernet changes path)."""
        self.w_bits = check_bits(w_bits)
        self.act_quant.bits = check_bits(a_bits)

    def bits_repr(self) -> str:
        return f"w_bits={self.w_bits}, a_bits={self.a_bits}"
