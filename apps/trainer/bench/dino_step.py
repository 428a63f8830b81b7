"""PyTorch counterpart of bench/dino-step.ts: images/s of the DINO train step on synthetic crops.

Usage: python3 dino_step.py [tiny|small|smoke] [STEPS] [BATCH]
  -> one JSON line per precision: fp32 eager, and (on CUDA) bf16/fp16 autocast as main_dino.py --use_fp16.
Student on 2 global + N local crops, teacher (EMA copy, no grad) on the 2 global ones, DINO loss with a
centre, backward, per-parameter clipping (3.0), AdamW, teacher EMA: the same step as trainDino.
A ViT as in DINO's vision_transformer.py (pre-norm blocks, exact GELU) and DINOHead (3-layer MLP,
weight-normed last layer). PyTorch is a reference here, never a dependency.
"""
import contextlib
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

SETTINGS = {
    # dim, depth, heads, patch, global px, local px, local crops, channels
    "tiny": (192, 12, 3, 4, 28, 12, 6, 1),
    "small": (384, 12, 6, 16, 224, 96, 6, 3),
    "smoke": (48, 1, 3, 4, 28, 12, 2, 1),
}
OUT_DIM, HIDDEN, BOTTLENECK = 65536, 2048, 256


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.fc1 = nn.Linear(dim, 4 * dim)
        self.fc2 = nn.Linear(4 * dim, dim)

    def forward(self, x):
        B, N, D = x.shape
        hd = D // self.heads
        q, k, v = self.qkv(self.norm1(x)).reshape(B, N, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
        attn = (q @ k.transpose(-2, -1) * hd**-0.5).softmax(dim=-1)
        x = x + self.proj((attn @ v).transpose(1, 2).reshape(B, N, D))
        return x + self.fc2(F.gelu(self.fc1(self.norm2(x))))


class ViT(nn.Module):
    def __init__(self, dim, depth, heads, patch, img, chans):
        super().__init__()
        self.patch = nn.Conv2d(chans, dim, patch, patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.randn(1, (img // patch) ** 2 + 1, dim) * 0.02)
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        n = x.shape[1]
        pos = self.pos
        if n + 1 != pos.shape[1]:  # local crops: interpolate the patch grid, as DINO does
            g0, g1 = int(math.sqrt(pos.shape[1] - 1)), int(math.sqrt(n))
            grid = pos[:, 1:].reshape(1, g0, g0, -1).permute(0, 3, 1, 2)
            grid = F.interpolate(grid, size=(g1, g1), mode="bicubic", align_corners=False).permute(0, 2, 3, 1).reshape(1, n, -1)
            pos = torch.cat([pos[:, :1], grid], 1)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], 1) + pos
        for b in self.blocks:
            x = b(x)
        return self.norm(x)[:, 0]


class Head(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(dim, HIDDEN), nn.GELU(), nn.Linear(HIDDEN, HIDDEN), nn.GELU(), nn.Linear(HIDDEN, BOTTLENECK))
        self.last = nn.utils.weight_norm(nn.Linear(BOTTLENECK, OUT_DIM, bias=False))
        self.last.weight_g.data.fill_(1)
        self.last.weight_g.requires_grad = False

    def forward(self, x):
        return self.last(F.normalize(self.mlp(x), dim=-1))


class Net(nn.Module):
    def __init__(self, s):
        super().__init__()
        dim, depth, heads, patch, img, _, _, chans = s
        self.backbone = ViT(dim, depth, heads, patch, img, chans)
        self.head = Head(dim)

    def forward(self, crops):
        # one backbone pass per resolution, as MultiCropWrapper
        feats = [self.backbone(torch.cat(crops[:2]))]
        if len(crops) > 2:
            feats.append(self.backbone(torch.cat(crops[2:])))
        return self.head(torch.cat(feats))


def run(setting, steps, batch, dtype, device):
    s = SETTINGS[setting]
    _, _, _, _, img, local, n_local, chans = s
    torch.manual_seed(0)
    student = Net(s).to(device)
    teacher = Net(s).to(device)
    teacher.load_state_dict(student.state_dict())
    for p in teacher.parameters():
        p.requires_grad = False
    opt = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=5e-4, weight_decay=0.04)
    center = torch.zeros(1, OUT_DIM, device=device)
    crops = [torch.randn(batch, chans, img, img, device=device) for _ in range(2)]
    crops += [torch.randn(batch, chans, local, local, device=device) for _ in range(n_local)]
    n_crops = len(crops)

    def step():
        nonlocal center
        scope = contextlib.nullcontext() if dtype == torch.float32 else torch.autocast(device.type, dtype=dtype)
        with scope:
            t_out = teacher(crops[:2])
            s_out = student(crops)
        s_out = (s_out.float() / 0.1).chunk(n_crops)
        t_soft = F.softmax((t_out.float() - center) / 0.04, dim=-1).detach().chunk(2)
        loss, terms = 0.0, 0
        for iq, q in enumerate(t_soft):
            for v in range(n_crops):
                if v != iq:
                    loss = loss + torch.sum(-q * F.log_softmax(s_out[v], dim=-1), dim=-1).mean()
                    terms += 1
        loss = loss / terms
        opt.zero_grad()
        loss.backward()
        for p in student.parameters():
            if p.grad is not None:
                p.grad.mul_((3.0 / (p.grad.norm() + 1e-6)).clamp(max=1))
        opt.step()
        with torch.no_grad():
            center = center * 0.9 + t_out.float().mean(0, keepdim=True) * 0.1
            for ps, pt in zip(student.parameters(), teacher.parameters()):
                pt.mul_(0.996).add_(ps.detach(), alpha=0.004)
        return loss.item()

    step()  # warm-up
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    sec = (time.perf_counter() - t0) / steps
    name = {torch.float32: "fp32", torch.bfloat16: "bf16 autocast", torch.float16: "fp16 autocast"}[dtype]
    print(json.dumps({"framework": "pytorch", "device": str(device), "precision": name, "setting": setting, "batch": batch, "secondsPerStep": sec, "imagesPerSec": batch / sec}))


if __name__ == "__main__":
    setting = sys.argv[1] if len(sys.argv) > 1 else "tiny"
    steps = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    batch = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    run(setting, steps, batch, torch.float32, device)
    if device.type == "cuda":
        run(setting, steps, batch, torch.float16, device)
        if torch.cuda.is_bf16_supported():
            run(setting, steps, batch, torch.bfloat16, device)
