"""Cut the committed Fashion-MNIST fixture from Debian's dataset-fashion-mnist.

Usage: /usr/bin/python3 packages/data/scripts/cut-fashion-mnist-fixture.py
Writes packages/data/fixtures/fashion-mnist/*.gz (gzip mtime 0, so the bytes are reproducible).
"""
import gzip
import os
import struct

SRC = '/usr/share/datasets/fashion-mnist/'
OUT = os.path.join(os.path.dirname(__file__), '..', 'fixtures', 'fashion-mnist')


def cut(name, n):
    raw = gzip.open(os.path.join(SRC, name)).read()
    magic = struct.unpack('>I', raw[:4])[0]
    ndim = magic & 0xFF
    dims = list(struct.unpack('>' + 'I' * ndim, raw[4:4 + 4 * ndim]))
    per_item = 1
    for d in dims[1:]:
        per_item *= d
    header = struct.pack('>I', magic) + struct.pack('>' + 'I' * ndim, n, *dims[1:])
    body = raw[4 + 4 * ndim:4 + 4 * ndim + n * per_item]
    with gzip.GzipFile(os.path.join(OUT, name), 'wb', mtime=0) as f:
        f.write(header + body)


cut('train-images-idx3-ubyte.gz', 2000)
cut('train-labels-idx1-ubyte.gz', 2000)
cut('t10k-images-idx3-ubyte.gz', 500)
cut('t10k-labels-idx1-ubyte.gz', 500)
