"""The ViT-Tiny DINO-style train step of bench/vit.ts in PyTorch, for the ratio in the bench.

Usage: python3 vit_step.py THREADS STEPS [DEPTH] [fp32|bf16] [vit_tiny|fmnist_reference]  -> prints one JSON line {"ms_per_step": ..., "cpu_ms_per_step": ..., "threads": ...}
bf16: forward and loss under torch.autocast('cpu', dtype=torch.bfloat16), backward outside it (as
PyTorch documents), the CPU counterpart of the official --use_fp16.
Same shapes, ops and optimizer as bench/vit.ts; PyTorch is a reference here, never a dependency.
"""
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

IMG, LOCAL_IMG, PATCH, DIM, DEPTH, HEADS = 28, 12, 4, 192, 12, 3
HEAD_HIDDEN, HEAD_BOTTLENECK, OUT_DIM, BATCH, N_GLOBAL, N_LOCAL = 512, 128, 1024, 32, 2, 6
# bench/vit.ts's FMNIST_REFERENCE_BENCH: the shapes of ssl-train --preset fmnist_reference
FMNIST_REFERENCE = dict(DIM=96, DEPTH=4, HEADS=3, HEAD_HIDDEN=512, HEAD_BOTTLENECK=256, OUT_DIM=1024, BATCH=64, N_LOCAL=4)


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = nn.LayerNorm(DIM, eps=1e-6)
        self.qkv = nn.Linear(DIM, 3 * DIM)
        self.proj = nn.Linear(DIM, DIM)
        self.ln2 = nn.LayerNorm(DIM, eps=1e-6)
        self.fc1 = nn.Linear(DIM, 4 * DIM)
        self.fc2 = nn.Linear(4 * DIM, DIM)

    def forward(self, x):
        B, N, D = x.shape
        hd = D // HEADS
        qkv = self.qkv(self.ln1(x)).reshape(B, N, 3, HEADS, hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q @ k.transpose(-2, -1) * (1 / math.sqrt(hd))).softmax(dim=-1)
        x = x + self.proj((attn @ v).transpose(1, 2).reshape(B, N, D))
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))


class Vit(nn.Module):
    def __init__(self):
        super().__init__()
        g = IMG // PATCH
        self.patch = nn.Conv2d(1, DIM, PATCH, PATCH)
        self.cls = nn.Parameter(torch.randn(1, 1, DIM) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, g * g + 1, DIM) * 0.02)
        self.blocks = nn.ModuleList([Block() for _ in range(DEPTH)])
        self.norm = nn.LayerNorm(DIM, eps=1e-6)
        self.fc1 = nn.Linear(DIM, HEAD_HIDDEN)
        self.fc2 = nn.Linear(HEAD_HIDDEN, HEAD_BOTTLENECK)
        self.last = nn.Linear(HEAD_BOTTLENECK, OUT_DIM, bias=False)

    def forward(self, images):
        B = images.shape[0]
        x = self.patch(images).flatten(2).transpose(1, 2)  # [B, g*g, D] (bench/vit.ts: patchify + matmul, same math)
        g, full = int(math.isqrt(x.shape[1])), IMG // PATCH
        pos_patch = self.pos[:, 1:]
        if g != full:
            grid = pos_patch.reshape(1, full, full, DIM).permute(0, 3, 1, 2)
            pos_patch = F.interpolate(grid, size=(g, g), mode="bilinear", align_corners=False).permute(0, 2, 3, 1).reshape(1, g * g, DIM)
        x = torch.cat([self.cls.expand(B, -1, -1), x], 1) + torch.cat([self.pos[:, :1], pos_patch], 1)
        for blk in self.blocks:
            x = blk(x)
        h = F.gelu(self.fc1(self.norm(x)[:, 0]))
        h = F.normalize(self.fc2(h), dim=-1, eps=1e-12)
        return self.last(h)


def main():
    global DEPTH
    threads, steps = int(sys.argv[1]), int(sys.argv[2])
    if len(sys.argv) > 5 and sys.argv[5] == 'fmnist_reference':
        globals().update(FMNIST_REFERENCE)
    elif len(sys.argv) > 3:
        DEPTH = int(sys.argv[3])
    bf16 = len(sys.argv) > 4 and sys.argv[4] == 'bf16'
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    student, teacher = Vit(), Vit()
    for p in teacher.parameters():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(student.parameters(), lr=1e-4, weight_decay=0.04)
    globals_ = torch.rand(N_GLOBAL * BATCH, 1, IMG, IMG)
    locals_ = torch.rand(N_LOCAL * BATCH, 1, LOCAL_IMG, LOCAL_IMG)

    def forward():
        with torch.no_grad():
            targets = F.softmax(teacher(globals_) / 0.04, dim=-1).chunk(N_GLOBAL)
        views = list(F.log_softmax(student(globals_) / 0.1, -1).chunk(N_GLOBAL)) + list(
            F.log_softmax(student(locals_) / 0.1, -1).chunk(N_LOCAL))
        total, terms = 0.0, 0
        for iq, q in enumerate(targets):
            for v, s in enumerate(views):
                if v == iq:
                    continue
                total = total + torch.sum(-q * s, dim=-1).mean()
                terms += 1
        return total / terms

    def step():
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
            loss = forward()
        opt.zero_grad()
        loss.backward()
        opt.step()
        with torch.no_grad():
            for ps, pt in zip(student.parameters(), teacher.parameters()):
                pt.mul_(0.996).add_(ps.detach(), alpha=0.004)
        return loss.item()

    step()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    ms = (time.perf_counter() - t0) * 1000 / steps
    cpu_ms = (time.process_time() - c0) * 1000 / steps
    print(json.dumps({"ms_per_step": ms, "cpu_ms_per_step": cpu_ms, "threads": threads, "precision": "bf16" if bf16 else "fp32", "torch": torch.__version__}))


if __name__ == "__main__":
    main()
