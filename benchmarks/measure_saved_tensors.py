"""What PyTorch's autograd really saves for backward: the oracle of convcalc's training memory.

    /work/torchvenv/bin/python benchmarks/measure_saved_tensors.py            # the six networks
    /work/torchvenv/bin/python benchmarks/measure_saved_tensors.py resnet50 --batch 1 2 -v
    /work/torchvenv/bin/python benchmarks/measure_saved_tensors.py --small   # one network per other rule
    /work/torchvenv/bin/python benchmarks/measure_saved_tensors.py resnet50 --amp bf16          # CPU autocast
    /work/torchvenv/bin/python benchmarks/measure_saved_tensors.py vgg16 --fake-cuda --amp fp16  # CUDA's rules

Needs a Python with ``torch`` and ``torchvision`` (never a dependency of convcalc or of its
tests: tests/test_training.py holds the figures this script printed, as constants, and
tests/test_training_backends.py those of ``--fake-cuda`` and ``--amp``).

How it measures: the torchvision model in ``train()`` mode, float32, on the CPU, one forward
pass of a zero-free random input of batch N (``requires_grad=False``, as a data loader gives
it) under ``torch.autograd.graph.saved_tensors_hooks``. The pack hook sees every tensor an
autograd node saves; a tensor is identified by its storage (``StorageWeakRef``, its address),
so a tensor saved by two nodes (a ReLU's output that the next conv saves as its input) and views
of one storage count once, at the storage's ``nbytes``. Parameters (weights, biases, batchnorm's
affine weight) are left out: they are the model's, not activations. Everything else counts: the
network's input when the first conv saves it, int64 max-pool indices, dropout masks,
batchnorm's saved mean and inverse std. ``-v`` prints, per kind of leaf module, the tensors first saved while it ran
(functional ops in ``forward()``, such as ResNet's residual add, count under the module before).

``--amp bf16|fp16``: the same forward pass under ``torch.autocast`` (the model's parameters stay
float32): the half-precision copies autocast makes of activations and of weights (its cache)
are new storages and count; parameters still do not.

``--fake-cuda``: CUDA's rules without a GPU. The model and input are built as fake CUDA tensors
under ``torch._subclasses.fake_tensor.FakeTensorMode``: PyTorch's own dispatch for CUDA tensors
runs (autocast's CUDA op lists, CUDA's ``native_dropout`` with its bool mask, the choice of
cuDNN's or the native batchnorm, layer norm's float32 statistics), with meta kernels giving
each output's shape and dtype, and nothing is allocated. A storage is identified by
``StorageWeakRef`` (a fake tensor has no data pointer). What a fake tensor cannot tell, and so
is not measured here: the size of cuDNN batchnorm's reserve space (cuDNN reports it only on a
GPU; the fake kernel makes it 0 bytes), and which attention kernel ``scaled_dot_product_attention``
picks (the choice reads the device's properties; with none it falls back to the math kernel).
The script forces the kernel PyTorch's ``sdp_utils.cpp`` picks on an sm80+ GPU (A100, H100)
with its default priority (flash, mem-efficient, math, cuDNN: ``torch._C._get_sdp_priority_order()``):
mem-efficient at float32 (flash needs fp16/bf16), flash under autocast. CUDA autocast is
switched on by telling ``torch.autocast`` that CUDA is available (it refuses otherwise).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections import defaultdict
from typing import Any, Dict, Iterator, List, Optional, Tuple

import torch
import torchvision
from torch.multiprocessing.reductions import StorageWeakRef
from torchvision.models.detection.backbone_utils import resnet_fpn_backbone

MODELS: Dict[str, Any] = {
    "resnet50": lambda: torchvision.models.resnet50(),
    "vgg16": lambda: torchvision.models.vgg16(),
    "resnet18": lambda: torchvision.models.resnet18(),
    "alexnet": lambda: torchvision.models.alexnet(),
    # as architectures/googlenet.yaml: the form without the auxiliary classifiers
    "googlenet": lambda: torchvision.models.googlenet(aux_logits=False, init_weights=False),
    "squeezenet1_0": lambda: torchvision.models.squeezenet1_0(),
    "resnet34": lambda: torchvision.models.resnet34(),
    "resnet152": lambda: torchvision.models.resnet152(),
    "squeezenet1_1": lambda: torchvision.models.squeezenet1_1(),
    "densenet121": lambda: torchvision.models.densenet121(),
    "mobilenet_v2": lambda: torchvision.models.mobilenet_v2(),
    "shufflenet_v2_x1_0": lambda: torchvision.models.shufflenet_v2_x1_0(),
    # as architectures/fcn_resnet50.yaml (no auxiliary head) and resnet50_fpn.yaml (the detection
    # backbone with FrozenBatchNorm2d, every layer trained), at their own input sizes
    "fcn_resnet50": lambda: torchvision.models.segmentation.fcn_resnet50(weights=None, weights_backbone=None,
                                                                         aux_loss=False),
    "resnet50_fpn": lambda: resnet_fpn_backbone(backbone_name="resnet50", weights=None,
                                                norm_layer=torchvision.ops.FrozenBatchNorm2d, trainable_layers=5),
    # stochastic depth 0.1 (torchvision's default) keeps one float per sample in 17 of 18 blocks,
    # which convcalc's spec does not model; without it the network is convcalc's exactly
    "vit_b_16": lambda: torchvision.models.vit_b_16(),
    "convnext_tiny": lambda: torchvision.models.convnext_tiny(),
    "convnext_tiny_no_drop_path": lambda: torchvision.models.convnext_tiny(stochastic_depth_prob=0.0),
    # windowed (Swin: shifted, padded, rolled) and block/grid (MaxViT) attention with a relative
    # position bias, squeeze-and-excitation's mul, patch merging's reshape and permute. swin_t
    # fixes its stochastic depth at 0.2 and maxvit_t's is 0.2 too, which the bundled specs leave
    # out: the _no_drop_path forms set every StochasticDepth's p to 0, convcalc's networks exactly
    "swin_t": lambda: torchvision.models.swin_t(),
    "swin_t_no_drop_path": lambda: without_stochastic_depth(torchvision.models.swin_t()),
    "maxvit_t": lambda: torchvision.models.maxvit_t(),
    "maxvit_t_no_drop_path": lambda: without_stochastic_depth(torchvision.models.maxvit_t()),
}
SIZES = {"fcn_resnet50": 520, "resnet50_fpn": 800}  # the input's height and width; 224 otherwise


def without_stochastic_depth(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` with every stochastic depth's probability 0 (it then returns its input, saving nothing)."""
    for module in model.modules():
        if isinstance(module, torchvision.ops.StochasticDepth):
            module.p = 0.0
    return model


class LayerNorm2d(torch.nn.LayerNorm):
    """convcalc's layernorm on a map: over the channels at each position (ConvNeXt's LayerNorm2d)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 1)).permute(0, 3, 1, 2)


class CenterCrop(torch.nn.Module):
    """convcalc's crop4 on an 8x8 map: a slice, a view of its input."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, :, 2:6, 2:6]


def small() -> Dict[str, torch.nn.Module]:
    """convcalc layer strings and the same networks in PyTorch, one per rule the torchvision
    CNNs do not exercise; measured on a (2, 3, 8, 8) input (``--small``)."""
    nn = torch.nn

    def conv(i: int, o: int) -> torch.nn.Module:
        return nn.Conv2d(i, o, 3, padding=1)

    return {
        "8x8x3 conv8k3p1 tanh maxpool conv8k3p1 sigmoid fc10 softmax": nn.Sequential(
            conv(3, 8), nn.Tanh(), nn.MaxPool2d(2), conv(8, 8), nn.Sigmoid(), nn.Flatten(), nn.Linear(128, 10),
            nn.Softmax(1)),
        "8x8x3 conv8k3p1 gelu conv8k3p1 silu conv8k3p1 hardswish conv8k3p1 leakyrelu fc10": nn.Sequential(
            conv(3, 8), nn.GELU(), conv(8, 8), nn.SiLU(), conv(8, 8), nn.Hardswish(), conv(8, 8), nn.LeakyReLU(),
            nn.Flatten(), nn.Linear(512, 10)),
        "8x8x3 conv8k3p1 lrn conv8k3p1 groupnorm2 conv8k3p1 layernorm": nn.Sequential(
            conv(3, 8), nn.LocalResponseNorm(5), conv(8, 8), nn.GroupNorm(2, 8), conv(8, 8), LayerNorm2d(8)),
        "8x8x3 conv8k3p1 convtranspose4k2s2 upsample2 conv4k1 globalmaxpool fc10": nn.Sequential(
            conv(3, 8), nn.ConvTranspose2d(8, 4, 2, 2), nn.Upsample(scale_factor=2), nn.Conv2d(4, 4, 1),
            nn.AdaptiveMaxPool2d(1), nn.Flatten(), nn.Linear(4, 10)),
        "8x8x3 conv8k3p1 relu6 conv8k3p1 prelu conv8k3p1 frozenbn fc10": nn.Sequential(
            conv(3, 8), nn.ReLU6(), conv(8, 8), nn.PReLU(8), conv(8, 8), torchvision.ops.FrozenBatchNorm2d(8),
            nn.Flatten(), nn.Linear(512, 10)),
        "8x8x3 conv8k3p1 crop4 conv8k3p1 dropout0 conv4k1": nn.Sequential(
            conv(3, 8), CenterCrop(), conv(8, 8), nn.Dropout(0.0), nn.Conv2d(8, 4, 1)),
    }


class PermuteReshape(torch.nn.Module):
    """convcalc's ``permute`` (when ``order`` is given) then ``reshape`` on token maps, batch first."""

    def __init__(self, order: Tuple[int, ...], to: Tuple[int, ...]) -> None:
        super().__init__()
        self.order, self.to = order, to

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x.permute(*self.order) if self.order else x).reshape(x.shape[0], *self.to)


def small_tokens() -> Dict[str, torch.nn.Module]:
    """As ``small``, for the views: measured on a (2, 4, 6, 8) input, channels last in both."""
    nn = torch.nn
    return {
        # a reshape of a permuted tensor is a copy: the linear saves a second tensor
        "permute then reshape": nn.Sequential(nn.Linear(8, 8), nn.ReLU(), PermuteReshape((0, 2, 1, 3), (6, 32)),
                                              nn.Linear(32, 4)),
        # of a contiguous one a view: the linear saves the ReLU's output, counted once
        "reshape": nn.Sequential(nn.Linear(8, 8), nn.ReLU(), PermuteReshape((), (4, 48)), nn.Linear(48, 4)),
    }


def small_windows() -> Dict[str, torch.nn.Module]:
    """Swin's window attention where the grid needs padding (10 -> 14, 4 windows), shifted and
    not, after a linear: measured on a (batch, 10, 10, 8) input at batch 1 and 2."""
    from torchvision.models.swin_transformer import ShiftedWindowAttention

    return {f"10x10x8 pwlinear8 attention2w7{flag}rb": torch.nn.Sequential(
        torch.nn.Linear(8, 8), ShiftedWindowAttention(8, [7, 7], shift, 2))
        for flag, shift in (("", [0, 0]), ("sh", [3, 3]))}


AMP = {"bf16": torch.bfloat16, "fp16": torch.float16}


def measure(model: torch.nn.Module, batch: int, size: int = 224,
            amp: Optional[torch.dtype] = None) -> Tuple[int, Dict[str, List[Tuple[str, int]]]]:
    """The bytes of the unique non-parameter storages autograd saves on a (batch, 3, size, size)
    input, and what each module kind saved."""
    return measure_input(model, torch.randn(batch, 3, size, size), amp)


def measure_input(model: torch.nn.Module, x: torch.Tensor,
                  amp: Optional[torch.dtype] = None) -> Tuple[int, Dict[str, List[Tuple[str, int]]]]:
    """``measure`` on the input ``x`` (tests/test_training.py's small networks use it too), under
    ``x``'s device's autocast at ``amp`` when given."""
    params = {StorageWeakRef(p.untyped_storage()) for p in model.parameters()}
    seen: Dict[Any, int] = {}
    by_kind: Dict[str, List[Tuple[str, int]]] = defaultdict(list)

    def pack(t: torch.Tensor) -> torch.Tensor:
        storage = t.untyped_storage()
        ptr = StorageWeakRef(storage)  # a storage's identity: real and fake tensors alike
        # the mem-efficient kernel's philox seed and offset (0-dim int64) are CPU scalars outside
        # CUDA graph capture (attention.cu, _efficient_attention_forward: ``device =
        # in_capture_stream ? kCUDA : kCPU``), not GPU memory; a fake kernel puts them on the
        # CUDA device (Note [Seed and Offset]), so they are left out by their look. (flash's rng
        # state, uint64, is on the GPU and counts: flash_api.cpp)
        if t.device.type != x.device.type or (t.dim() == 0 and t.dtype == torch.int64):
            return t
        if ptr not in params and ptr not in seen:
            seen[ptr] = storage.nbytes()
            by_kind[current[0]].append((f"{tuple(t.shape)} {t.dtype}", storage.nbytes()))
        return t

    current = ["(outside any module)"]

    def enter(module: torch.nn.Module, _: Any) -> None:
        current[0] = type(module).__name__

    hooks = [m.register_forward_pre_hook(enter) for m in model.modules() if not list(m.children())]
    model.train()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        if amp is None:
            model(x)
        else:
            with torch.autocast(x.device.type, dtype=amp):
                model(x)
    for hook in hooks:
        hook.remove()
    return sum(seen.values()), by_kind


@contextlib.contextmanager
def fake_cuda(amp: Optional[torch.dtype], flash: bool = True) -> Iterator[None]:
    """Tensors made inside are fake CUDA tensors; CUDA autocast is allowed; the attention kernel is
    the one sdp_utils.cpp picks on an sm80+ GPU (see the module docstring), or without ``flash``
    on an older one (V100, T4: mem-efficient at every precision)."""
    import torch.cuda.amp.common
    import torch.nn.functional as F
    from torch._subclasses.fake_tensor import FakeTensorMode

    def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, attn_mask: Any = None, dropout_p: float = 0.0,
                  is_causal: bool = False, scale: Optional[float] = None, **_: Any) -> torch.Tensor:
        assert attn_mask is None and not is_causal, "only the unmasked attention of ViT is forced"
        if flash and q.dtype in (torch.float16, torch.bfloat16):  # flash: fp16/bf16 only, sm80+
            return torch.ops.aten._scaled_dot_product_flash_attention(q, k, v, dropout_p, False, False,
                                                                      scale=scale)[0]
        return torch.ops.aten._scaled_dot_product_efficient_attention(q, k, v, None, True, dropout_p, False,
                                                                      scale=scale)[0]

    saved = (torch.cuda.amp.common.amp_definitely_not_available, torch.cuda.is_bf16_supported,
             F.scaled_dot_product_attention, torch.nn.init.trunc_normal_)
    torch.cuda.amp.common.amp_definitely_not_available = lambda: False
    torch.cuda.is_bf16_supported = lambda *args, **kwargs: True
    F.scaled_dot_product_attention = attention
    # ViT's initialisation resamples until every value is in range: a question about values a
    # fake tensor has not got. The values do not matter here
    torch.nn.init.trunc_normal_ = lambda tensor, *args, **kwargs: tensor
    try:
        with FakeTensorMode(), torch.device("cuda"):
            yield
    finally:
        (torch.cuda.amp.common.amp_definitely_not_available, torch.cuda.is_bf16_supported,
         F.scaled_dot_product_attention, torch.nn.init.trunc_normal_) = saved


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", default=list(MODELS))
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 2])
    parser.add_argument("-v", "--verbose", action="store_true")
    parser.add_argument("--small", action="store_true", help="the small networks of tests/test_training.py instead")
    parser.add_argument("--amp", choices=sorted(AMP), help="under torch.autocast at this dtype (parameters float32)")
    parser.add_argument("--fake-cuda", action="store_true", help="CUDA's rules, with fake CUDA tensors (no GPU)")
    parser.add_argument("--no-flash", action="store_true", help="with --fake-cuda: a GPU without flash attention")
    args = parser.parse_args(argv)
    amp = AMP[args.amp] if args.amp else None
    if args.small:
        with fake_cuda(amp, not args.no_flash) if args.fake_cuda else contextlib.nullcontext():
            for spec, net in small().items():
                print(f"{measure_input(net, torch.randn(2, 3, 8, 8), amp)[0]:>8,} B at batch 2: {spec}")
            for spec, net in small_tokens().items():
                print(f"{measure_input(net, torch.randn(2, 4, 6, 8), amp)[0]:>8,} B at batch 2: {spec} (4x6x8 tokens)")
            for spec, net in small_windows().items():
                for batch in (1, 2):
                    print(f"{measure_input(net, torch.randn(batch, 10, 10, 8), amp)[0]:>8,} B at batch {batch}: {spec}")
        return 0
    unknown = [name for name in args.models if name not in MODELS]
    if unknown:
        parser.error(f"unknown model {', '.join(unknown)}; known: {', '.join(MODELS)}")
    torch.manual_seed(0)
    where = "fake CUDA (FakeTensorMode)" if args.fake_cuda else "CPU"
    where += ", no flash attention" if args.no_flash else ""
    print(f"torch {torch.__version__}, torchvision {torchvision.__version__}, {where}, float32"
          f"{f', autocast {args.amp}' if amp else ''}, train mode")
    for name in args.models:
        with fake_cuda(amp, not args.no_flash) if args.fake_cuda else contextlib.nullcontext():
            model = MODELS[name]()
            results = [measure(model, batch, SIZES.get(name, 224), amp) for batch in args.batch]
        for batch, (total, by_kind) in zip(args.batch, results):
            print(f"{name:14} batch {batch}: {total:,} bytes saved for backward")
            if args.verbose:
                for kind, saved in sorted(by_kind.items()):
                    print(f"    {kind:32} {len(saved):4} tensors {sum(b for _, b in saved):>14,} B"
                          f"   e.g. {saved[0][0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
