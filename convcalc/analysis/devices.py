"""Devices: the accelerators ``convcalc plan --device NAME`` knows, from their makers' datasheets.

A device's ``memory_bytes`` is the capacity its datasheet gives ("16 GB HBM2"), read as binary
gigabytes (GiB: HBM and GDDR are built of power-of-two chips, and nvidia-smi's totals are
within a few hundred MiB of it: the ECC and driver reserve). What a training run can use is less:
the CUDA context and the caching allocator take their share, and the plan states and subtracts
that headroom separately, never hidden in these figures.

Names are matched without regard to case, spaces, dashes or underscores ("a100-80", "A100 80GB").

For the roofline bound (roofline.py) a device also has its datasheet's peak throughput per
precision and its memory bandwidth, exact integers (FLOP/s, bytes/s; a datasheet's "15.7
TFLOPS" is 15_700_000_000_000, its "900 GB/s" 900 * 10**9: bandwidth is quoted in decimal
units), each with its source in ``compute_source``:

- ``fp32_flops``: the CUDA cores' single precision; ``tf32_flops``, ``fp16_flops``,
  ``bf16_flops``: the tensor cores, dense. Where a datasheet quotes only the "with sparsity"
  figure (2:4 structured sparsity doubles it), the dense one is half of it, and the source says
  so. None: the device has no such tensor cores (V100 and T4: no TF32 or BF16), or its figure
  was not confirmed (Jetson AGX Orin: its datasheet gives AI performance as sparse INT8 TOPS of
  GPU and DLA together; the GPU's dense FP16 rate and the modules' bandwidth are not given
  there in a form checked for this table, so the roofline leaves it out and says so).
- The GeForce cards' FP16 and BF16 figures are those with FP32 accumulation, what PyTorch's
  cuBLAS and cuDNN calls compute in (their architecture whitepapers give twice that with FP16
  accumulation, which PyTorch does not use); the data-centre parts run both at one rate.
- ``bandwidth``: the memory's datasheet bandwidth (peak, not sustained).

These are peaks no kernel reaches; the roofline uses them because a bound built on them can
only be lower than what a run measures.
"""

from __future__ import annotations

from typing import Dict, Optional, Tuple

from ..values import value

GIB = 1 << 30


@value
class Device:
    """One accelerator as its datasheet gives it."""

    name: str  # as people write it: "V100 16GB"
    memory_bytes: int  # datasheet capacity, GiB read as 2**30 bytes
    source: str  # the datasheet the figures come from
    fp32_flops: Optional[int] = None  # FLOP/s, CUDA cores, single precision
    tf32_flops: Optional[int] = None  # FLOP/s, tensor cores, dense
    fp16_flops: Optional[int] = None  # FLOP/s, tensor cores, dense, FP32 accumulation
    bf16_flops: Optional[int] = None  # FLOP/s, tensor cores, dense
    bandwidth: Optional[int] = None  # bytes/s of the device's memory
    compute_source: str = ""  # where the throughput and bandwidth come from, and what was derived
    # CUDA compute capability (NVIDIA's CUDA GPUs list): PyTorch's flash attention needs sm80 or newer
    compute_capability: Tuple[int, int] = (0, 0)

    @property
    def flash_attention(self) -> bool:
        """Whether PyTorch runs its flash attention kernel here (sdp_utils: sm80 and newer)."""
        return self.compute_capability >= (8, 0)

    def peak_flops(self, precision: str) -> Optional[int]:
        """The datasheet peak at ``precision`` ("fp32", "tf32", "fp16", "bf16"), or None."""
        return {"fp32": self.fp32_flops, "tf32": self.tf32_flops, "fp16": self.fp16_flops,
                "bf16": self.bf16_flops}.get(precision)


GB_S = 10**9  # bandwidth: decimal gigabytes per second, as datasheets quote it


def tera(figure: str) -> int:
    """A datasheet's TFLOPS figure as exact FLOP/s: "15.7" -> 15_700_000_000_000."""
    whole, _, tenths = figure.partition(".")
    return int(whole + tenths + "0" * (12 - len(tenths)))


_V100 = ("NVIDIA Tesla V100 datasheet (SXM2): 15.7 TFLOPS single precision, 125 TFLOPS tensor (FP16, mixed "
         "precision), 900 GB/s")
_A100 = ("NVIDIA A100 datasheet (SXM): FP32 19.5 TFLOPS; TF32 156, BF16 312, FP16 312 TFLOPS dense "
         "(312/624/624 with sparsity); {bandwidth}")
_ORIN = ("not given: the Jetson AGX Orin series datasheet states AI performance as sparse INT8 TOPS (GPU and DLA "
         "together); the GPU's dense FP16 rate and the module's bandwidth were not confirmed for this table")

DEVICES: Tuple[Device, ...] = (
    Device("V100 16GB", 16 * GIB, "NVIDIA Tesla V100 datasheet (SXM2)",
           fp32_flops=tera("15.7"), fp16_flops=tera("125"), bandwidth=900 * GB_S, compute_source=_V100,
           compute_capability=(7, 0)),
    Device("V100 32GB", 32 * GIB, "NVIDIA Tesla V100 datasheet (SXM2)",
           fp32_flops=tera("15.7"), fp16_flops=tera("125"), bandwidth=900 * GB_S, compute_source=_V100,
           compute_capability=(7, 0)),
    Device("T4", 16 * GIB, "NVIDIA T4 datasheet",
           fp32_flops=tera("8.1"), fp16_flops=tera("65"), bandwidth=320 * GB_S,
           compute_source="NVIDIA T4 datasheet: 8.1 TFLOPS single precision, 65 TFLOPS mixed precision (FP16/FP32), "
                          "320+ GB/s (read as 320)", compute_capability=(7, 5)),
    Device("A10", 24 * GIB, "NVIDIA A10 datasheet",
           fp32_flops=tera("31.2"), tf32_flops=tera("62.5"), fp16_flops=tera("125"),
           bf16_flops=tera("125"), bandwidth=600 * GB_S,
           compute_source="NVIDIA A10 datasheet: FP32 31.2 TFLOPS; TF32 62.5, BF16 125, FP16 125 TFLOPS dense "
                          "(125/250/250 with sparsity); 600 GB/s", compute_capability=(8, 6)),
    Device("L4", 24 * GIB, "NVIDIA L4 datasheet",
           fp32_flops=tera("30.3"), tf32_flops=tera("60"), fp16_flops=tera("121"), bf16_flops=tera("121"),
           bandwidth=300 * GB_S,
           compute_source="NVIDIA L4 datasheet: FP32 30.3 TFLOPS; TF32 120, FP16 242, BF16 242 TFLOPS given only "
                          "with sparsity, halved here for dense (60, 121, 121); 300 GB/s", compute_capability=(8, 9)),
    Device("A100 40GB", 40 * GIB, "NVIDIA A100 datasheet (SXM)",
           fp32_flops=tera("19.5"), tf32_flops=tera("156"), fp16_flops=tera("312"), bf16_flops=tera("312"),
           bandwidth=1_555 * GB_S, compute_source=_A100.format(bandwidth="1,555 GB/s (40GB HBM2)"),
           compute_capability=(8, 0)),
    Device("A100 80GB", 80 * GIB, "NVIDIA A100 datasheet (SXM)",
           fp32_flops=tera("19.5"), tf32_flops=tera("156"), fp16_flops=tera("312"), bf16_flops=tera("312"),
           bandwidth=2_039 * GB_S, compute_source=_A100.format(bandwidth="2,039 GB/s (80GB HBM2e)"),
           compute_capability=(8, 0)),
    Device("H100 80GB", 80 * GIB, "NVIDIA H100 datasheet (SXM)",
           fp32_flops=tera("67"), tf32_flops=tera("494.5"), fp16_flops=tera("989.5"),
           bf16_flops=tera("989.5"), bandwidth=3_350 * GB_S,
           compute_source="NVIDIA H100 datasheet (SXM): FP32 67 TFLOPS; TF32 989, BF16 1,979, FP16 1,979 TFLOPS "
                          "given only with sparsity, halved here for dense (494.5, 989.5, 989.5); 3.35 TB/s",
           compute_capability=(9, 0)),
    Device("RTX 3090", 24 * GIB, "NVIDIA GeForce RTX 3090 specifications",
           fp32_flops=tera("35.6"), tf32_flops=tera("35.6"), fp16_flops=tera("71"),
           bf16_flops=tera("71"), bandwidth=936 * GB_S,
           compute_source="NVIDIA Ampere GA102 GPU architecture whitepaper, GeForce RTX 3090: FP32 35.6 TFLOPS; "
                          "dense tensor TF32 35.6, FP16 and BF16 with FP32 accumulate 71 (FP16 with FP16 "
                          "accumulate 142); 936 GB/s", compute_capability=(8, 6)),
    Device("RTX 4090", 24 * GIB, "NVIDIA GeForce RTX 4090 specifications",
           fp32_flops=tera("82.6"), tf32_flops=tera("82.6"), fp16_flops=tera("165.2"),
           bf16_flops=tera("165.2"), bandwidth=1_008 * GB_S,
           compute_source="NVIDIA Ada GPU architecture whitepaper, GeForce RTX 4090: FP32 82.6 TFLOPS; dense "
                          "tensor TF32 82.6, FP16 and BF16 with FP32 accumulate 165.2 (FP16 with FP16 accumulate "
                          "330.3); 1,008 GB/s", compute_capability=(8, 9)),
    Device("Jetson AGX Orin 32GB", 32 * GIB, "NVIDIA Jetson AGX Orin series datasheet (shared with the CPU)",
           compute_source=_ORIN, compute_capability=(8, 7)),
    Device("Jetson AGX Orin 64GB", 64 * GIB, "NVIDIA Jetson AGX Orin series datasheet (shared with the CPU)",
           compute_source=_ORIN, compute_capability=(8, 7)),
)


def _key(name: str) -> str:
    return "".join(c for c in name.lower() if c.isalnum()).removesuffix("gb")


_BY_KEY: Dict[str, Device] = {_key(d.name): d for d in DEVICES}


def find_device(name: str) -> Optional[Device]:
    """The device called ``name`` ("v100-16", "A100 80GB", "rtx4090"), or None."""
    key = _key(name)
    if key in _BY_KEY:
        return _BY_KEY[key]
    matches = [d for k, d in _BY_KEY.items() if k.startswith(key)]
    return matches[0] if len(matches) == 1 else None


def device_names() -> Tuple[str, ...]:
    """Every known device's name, for a message that lists them."""
    return tuple(d.name for d in DEVICES)
