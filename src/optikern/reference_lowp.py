"""Pure-Python definition of the 16-bit storage used by mixed precision (``math``/``struct``
only, no NumPy): float16 and bfloat16 conversions, round-to-nearest-even, stochastic rounding
and its random stream. The kernels must reproduce it bit for bit.

Values are handled as Python floats (which hold every float32 exactly) and 16-bit patterns as
ints.
"""

from __future__ import annotations

import math
import struct

MASK32 = (1 << 32) - 1
MASK64 = (1 << 64) - 1


def float32_bits(x: float) -> int:
    """The IEEE bits of x rounded to float32."""
    return int(struct.unpack("<I", struct.pack("<f", x))[0])


def float32_value(bits: int) -> float:
    return float(struct.unpack("<f", struct.pack("<I", bits & 0xFFFFFFFF))[0])


def bfloat16_to_float(bits: int) -> float:
    return float32_value(bits << 16)


def float16_to_float(bits: int) -> float:
    """Exact; a NaN becomes a quiet float NaN with the same sign and payload (F16C's rule)."""
    if bits & 0x7C00 == 0x7C00 and bits & 0x3FF:
        return float32_value((bits & 0x8000) << 16 | 0x7FC00000 | (bits & 0x3FF) << 13)
    return float(struct.unpack("<e", struct.pack("<H", bits))[0])


def to_float(bits: int, fmt: str) -> float:
    return bfloat16_to_float(bits) if fmt == "bfloat16" else float16_to_float(bits)


def round_nearest(x: float, fmt: str) -> int:
    """x (a float32 value) to the nearest 16-bit value, ties to even; NaN stays NaN."""
    if fmt == "float16":
        if math.isnan(x):  # quiet, with the payload's top 10 bits (F16C's rule)
            bits = float32_bits(x)
            return (bits >> 16) & 0x8000 | 0x7E00 | (bits >> 13) & 0x3FF
        try:
            return int(struct.unpack("<H", struct.pack("<e", x))[0])  # IEEE round-half-even
        except OverflowError:  # beyond 65520 rounds to infinity
            return 0xFC00 if x < 0 else 0x7C00
    bits = float32_bits(x)
    if (bits & 0x7FFFFFFF) > 0x7F800000:
        return (bits >> 16) | 0x40
    return ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) & 0xFFFF


def toward_zero(x: float, fmt: str) -> int:
    """The 16-bit value nearest x that is not larger in magnitude (x finite)."""
    if fmt == "bfloat16":
        return float32_bits(x) >> 16
    sign = 0x8000 if math.copysign(1.0, x) < 0 else 0
    magnitude = abs(x)
    if magnitude >= 65504.0:
        return sign | 0x7BFF
    nearest = round_nearest(magnitude, "float16")
    if float16_to_float(nearest) > magnitude:
        nearest -= 1
    return sign | nearest


def random_bits(seed: int, stream: int, tensor: int, element: int) -> int:
    """32 uniform bits of the stochastic-rounding stream: the element's low 32 bits plus a key
    of everything else, through Wellons' lowbias32 finaliser (32-bit multiplies)."""
    base = (seed + 0xD1B54A32D192ED03 * stream + 0x8CB92BA72F3D8DD7 * tensor) & MASK64
    z = (base + 0x9E3779B97F4A7C15 * (element >> 32)) & MASK64
    x = (element + (z ^ (z >> 32))) & MASK32
    x = ((x ^ (x >> 16)) * 0x7FEB352D) & MASK32
    x = ((x ^ (x >> 15)) * 0x846CA68B) & MASK32
    return x ^ (x >> 16)


def round_stochastic(x: float, fmt: str, random: int) -> int:
    """Round x up in magnitude with probability (x - low) / (high - low), where low and high
    are its 16-bit neighbours; ``random`` gives the uniform number (its top 24 of 32 bits).
    Never rounds to infinity: values beyond the largest finite value saturate to it."""
    if not math.isfinite(x) or abs(x) > 3.4028234663852886e38:
        return round_nearest(x, fmt)
    low = toward_zero(x, fmt)
    low_value = to_float(low, fmt)
    high = low + 1
    high_value = to_float(high, fmt)
    if low_value == x or math.isinf(high_value):
        return low
    fraction = (x - low_value) / (high_value - low_value)
    uniform = (random >> 8) * 2.0**-24
    return high if uniform < fraction else low


def is_rounding_of(bits: int, x: float, fmt: str, stochastic: bool) -> bool:
    """Whether the 16-bit value ``bits`` is what the rounding mode could have written for x:
    the nearest value, or under stochastic rounding either neighbour. The optimizer keeps a
    master copy x only while its 16-bit param passes this test; otherwise the master restarts
    from the param's value."""
    if bits == round_nearest(x, fmt):
        return True
    if not stochastic or not math.isfinite(x) or abs(x) > 3.4028234663852886e38:
        return False
    low = toward_zero(x, fmt)
    return bits == low or (bits == low + 1 and to_float(low, fmt) != x)
