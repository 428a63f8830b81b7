#!/usr/bin/python3
"""The same multi-crop pipelines in torchvision + PIL, timed for comparison with bench/loader.bench.mjs.

Written from torchvision primitives with DINO's published parameters (main_dino.py
DataAugmentationDINO, utils.GaussianBlur / Solarization). Prints one JSON line.
usage: torchvision_dino.py photos <image-folder> <workers> | fmnist <idx-dir> <workers> <n>
"""
import gzip
import json
import os
import random
import sys
import time

import numpy as np
import torch
from PIL import Image, ImageFilter, ImageOps
from torchvision import datasets, transforms as T

torch.set_num_threads(1)


class Blur:
    def __init__(self, p):
        self.p = p

    def __call__(self, img):
        if random.random() <= self.p:
            return img.filter(ImageFilter.GaussianBlur(radius=random.uniform(0.1, 2.0)))
        return img


class Solarize:
    def __init__(self, p):
        self.p = p

    def __call__(self, img):
        return ImageOps.solarize(img) if random.random() < self.p else img


class MultiCrop:
    def __init__(self, gsize, lsize, nlocal, mean, std):
        jitter = T.Compose([
            T.RandomHorizontalFlip(p=0.5),
            T.RandomApply([T.ColorJitter(brightness=0.4, contrast=0.4, saturation=0.2, hue=0.1)], p=0.8),
            T.RandomGrayscale(p=0.2),
        ])
        norm = T.Compose([T.ToTensor(), T.Normalize(mean, std)])
        bic = T.InterpolationMode.BICUBIC
        self.g1 = T.Compose([T.RandomResizedCrop(gsize, scale=(0.4, 1.0), interpolation=bic), jitter, Blur(1.0), norm])
        self.g2 = T.Compose([T.RandomResizedCrop(gsize, scale=(0.4, 1.0), interpolation=bic), jitter, Blur(0.1), Solarize(0.2), norm])
        self.loc = T.Compose([T.RandomResizedCrop(lsize, scale=(0.05, 0.4), interpolation=bic), jitter, Blur(0.5), norm])
        self.nlocal = nlocal

    def __call__(self, img):
        return [self.g1(img), self.g2(img)] + [self.loc(img) for _ in range(self.nlocal)]


class FMnist(torch.utils.data.Dataset):
    def __init__(self, root, n, transform):
        with gzip.open(os.path.join(root, "train-images-idx3-ubyte.gz")) as f:
            self.images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28)[:n]
        self.transform = transform

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(Image.fromarray(self.images[i], "L")), 0


def main():
    mode, root, workers = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if mode == "photos":
        ds = datasets.ImageFolder(root, MultiCrop(224, 96, 8, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)))
    else:
        ds = FMnist(root, int(sys.argv[4]), MultiCrop(28, 12, 8, (0.286,), (0.353,)))
    loader = torch.utils.data.DataLoader(ds, batch_size=16, shuffle=True, num_workers=workers, drop_last=True,
                                         persistent_workers=workers > 0)
    for i, _ in enumerate(loader):  # warm-up: start workers, fill caches
        if i == 1:
            break
    t0 = time.perf_counter()
    c0 = time.process_time()
    n = 0
    for views, _ in loader:
        n += views[0].shape[0]
    dt = time.perf_counter() - t0
    # CPU time of this process only: meaningful per core when num_workers == 0.
    cpu = time.process_time() - c0
    print(json.dumps({"images": n, "seconds": dt, "images_per_s": n / dt, "images_per_cpu_s": n / cpu}))


if __name__ == "__main__":
    main()
