"""PyTorch eager throughput of the DINO ViT used by bench/run.mjs (same architecture, random weights).

usage: python3 torch_vit.py IMG PATCH DIM DEPTH HEADS IN_CHANS BATCH SECONDS THREADS
prints one JSON line: {"images_per_s": ..., "batches": ...}
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "packages", "onnx", "fixtures"))
from make_fixtures import ViT  # noqa: E402  (the DINO-structured ViT of the ONNX fixtures)

img, patch, dim, depth, heads, in_chans, batch = (int(a) for a in sys.argv[1:8])
seconds = float(sys.argv[8])
torch.set_num_threads(int(sys.argv[9]))
torch.manual_seed(0)
model = ViT(img_size=img, patch=patch, in_chans=in_chans, dim=dim, depth=depth, heads=heads).eval()
x = torch.randn(batch, in_chans, img, img)
with torch.no_grad():
    for _ in range(2):
        model(x)
    n = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds or n < 2:
        model(x)
        n += 1
    dt = time.perf_counter() - t0
print(json.dumps({"images_per_s": n * batch / dt, "batches": n}))
