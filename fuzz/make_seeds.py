#!/usr/bin/python3
"""Writes the fuzz targets' seed corpora, fuzz/corpus/<target>/seed-*, a few KB each: tiny checkpoints, weights files,
model configs and config.json files from two few-step runs of `tapegrad train`, 6x5-pixel images in every format and
mode stb_image reads (Pillow), palettes and name lists by hand. Usage: fuzz/make_seeds.py build/tapegrad
(Debian's python3: it has Pillow). Inputs that once failed are added beside the seeds by hand (crash-*)."""
import io
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, "seed-" + name), "wb") as f:
        f.write(data)


def read_safetensors(data):
    n = struct.unpack("<Q", data[:8])[0]
    return json.loads(data[8:8 + n]), data[8 + n:]


def write_safetensors(header, body):
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + body


def tiny_run(tapegrad, out, *flags):
    subprocess.run([tapegrad, "train", "--size", "8", "--synthetic-count", "4", "--batch", "2", "--epochs", "1",
                    "--steps-per-epoch", "1", "--threads", "1", "--progress", "none", "--out", out, *flags],
                   check=True, stdout=subprocess.DEVNULL)


def run_seeds(tapegrad):
    tmp = tempfile.mkdtemp()
    try:
        runs = {"unet": ["--filters", "1", "--depth", "1"],
                "autoencoder-bn": ["--model", "autoencoder", "--filters", "1", "--depth", "1", "--batch-norm",
                                   "--optimizer", "sgd", "--schedule", "cosine"]}
        for name, flags in runs.items():
            out = os.path.join(tmp, name)
            tiny_run(tapegrad, out, *flags)
            with open(os.path.join(out, "checkpoints", "last.safetensors"), "rb") as f:
                checkpoint = f.read()
            put("safetensors", name + "-checkpoint", checkpoint)
            header, body = read_safetensors(checkpoint)
            meta = header.pop("__metadata__")
            put("model_json", name, meta["tapegrad.model"])
            # A weights file as Model::save_weights writes it: the model's tensors and its config, no checksum.
            weights, data = {}, b""
            for key, entry in header.items():
                if key.startswith("optimizer/"):
                    continue
                begin, end = entry["data_offsets"]
                weights[key] = dict(entry, data_offsets=[len(data), len(data) + end - begin])
                data += body[begin:end]
            weights["__metadata__"] = {"tapegrad.model": meta["tapegrad.model"]}
            put("safetensors", name + "-weights", write_safetensors(weights, data))
            with open(os.path.join(out, "config.json"), "rb") as f:
                put("run_config", name, f.read())
    finally:
        shutil.rmtree(tmp)
    put("safetensors", "f64", write_safetensors({"a": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]},
                                                 "__metadata__": {"k": "v"}}, struct.pack("<2d", 1.5, -2.0)))
    put("safetensors", "empty", write_safetensors({}, b""))


def image_seeds():
    def pixels(mode):
        img = Image.new(mode, (6, 5))
        for y in range(5):
            for x in range(6):
                v = (x * 40 + y * 13) % 256
                img.putpixel((x, y), {"L": v, "LA": (v, 255 - v), "RGB": (v, 255 - v, x * 9),
                                      "RGBA": (v, 0, 255 - v, 128), "I;16": v * 257, "P": x % 3}[mode])
        return img

    def encoded(img, fmt, **kw):
        b = io.BytesIO()
        img.save(b, fmt, **kw)
        return b.getvalue()

    for mode in ["L", "LA", "RGB", "RGBA", "I;16", "P"]:
        put("image", "png-" + mode.replace(";", ""), encoded(pixels(mode), "PNG"))
    put("image", "jpeg-grey", encoded(pixels("L"), "JPEG", quality=90))
    put("image", "jpeg-rgb-progressive", encoded(pixels("RGB"), "JPEG", quality=90, progressive=True))
    put("image", "bmp-rgb", encoded(pixels("RGB"), "BMP"))
    put("image", "bmp-palette", encoded(pixels("P"), "BMP"))
    put("image", "tga-rgba", encoded(pixels("RGBA"), "TGA"))
    put("image", "tga-rle-grey", encoded(pixels("L"), "TGA", compression="tga_rle"))


def text_seeds():
    # palette_fuzz: the first byte chooses the format (odd: JSON, even: CSV).
    put("palette", "json-list", "\x01[[0, 0, 0], [255, 255, 255], [128, 0, 0]]")
    put("palette", "json-object", '\x01{"0": [0, 0, 0], "2": [10, 20, 30], "255": [255, 255, 255]}')
    put("palette", "csv-ids", "\x00class,r,g,b\n0,0,0,0\n1,255,0,0\n# void\n255,255,255,255\n")
    put("palette", "csv-rgb", "\x00 0, 0, 0\r\n255,255,255\r\n")
    for i, names in enumerate(["25-29,31,cat", "00001-00012", "008-010, x-y ,7", "a,,b", "0-0,12-3"]):
        put("names", str(i), names)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    run_seeds(os.path.abspath(sys.argv[1]))
    image_seeds()
    text_seeds()
