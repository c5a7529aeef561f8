#!/usr/bin/env python3
"""Seed corpora and the prototxt dictionary for the fuzz targets, generated
from the project's own files (nothing is copied into the repository):

  prototxt/     models/predictor_mobilenet, tests/crosscheck/*.prototxt, every
                net written in the tests (raw string literals), and every
                layer snippet of the tests wrapped into a small net
  net_forward/  the same, with the example network's input shrunk to 32x32
  caffemodel/   from the .caffemodel files given with --caffemodel (written by
                `predictor init-weights` on tests/fuzz/caffemodel_net.prototxt):
                as is, re-encoded in the V1 format (legacy 4-D blob shapes)
                and with double-precision data
  prototxt.dict libFuzzer dictionary: the schema's field and enum names, the
                layer types, prototxt punctuation

  tests/fuzz/make_corpus.py --out DIR [--caffemodel FILE ...]
"""
import argparse
import hashlib
import os
import re
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RAW_STRING = re.compile(r'R"\((.*?)\)"', re.S)
TWO_BOTTOM_TYPES = {"Eltwise", "Concat", "Crop", "Scale", "Bias", "Reshape"}


def write_seed(folder, text):
    data = text.encode() if isinstance(text, str) else text
    os.makedirs(folder, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(folder, name), "wb") as out:
        out.write(data)


def own_prototxts():
    paths = [os.path.join(ROOT, "models/predictor_mobilenet/deploy.prototxt")]
    crosscheck = os.path.join(ROOT, "tests/crosscheck")
    paths += sorted(os.path.join(crosscheck, f) for f in os.listdir(crosscheck) if f.endswith(".prototxt"))
    return [open(p).read() for p in paths]


def test_snippets():
    """(kind, text): 'net' for whole nets, 'layer' for one layer's fields."""
    snippets = []
    for folder, _, files in os.walk(os.path.join(ROOT, "tests")):
        if os.path.relpath(folder, ROOT).startswith("tests/fuzz"):
            continue
        for f in sorted(files):
            if not f.endswith((".cpp", ".h")):
                continue
            for text in RAW_STRING.findall(open(os.path.join(folder, f)).read()):
                if re.search(r"\blayers?\s*\{|\binput\s*:", text):
                    snippets.append(("net", text))
                elif re.search(r'\btype\s*:\s*"', text):
                    snippets.append(("layer", text))
    return snippets


def wrap_layer(snippet, two_bottoms):
    shape = "input_param { shape { dim: 2 dim: 3 dim: 4 dim: 5 } }"
    lines = ['name: "seed"',
             'layer { name: "data" type: "Input" top: "data" %s }' % shape]
    wiring = 'bottom: "data"'
    if two_bottoms:
        lines.append('layer { name: "data2" type: "Input" top: "data2" %s }' % shape)
        wiring += ' bottom: "data2"'
    if "bottom:" not in snippet:
        snippet = snippet + " " + wiring
    if "top:" not in snippet:
        snippet = snippet + ' top: "out"'
    lines.append("layer { %s }" % snippet)
    return "\n".join(lines) + "\n"


# Forms the project's files and tests leave out.
EXTRA_SEEDS = [
    # N-d (3-D) convolution and deconvolution.
    """name: "conv3d"
input: "data" input_shape { dim: 1 dim: 2 dim: 5 dim: 6 dim: 7 }
layer { name: "c" type: "Convolution" bottom: "data" top: "c"
  convolution_param { num_output: 3 kernel_size: 2 kernel_size: 3 kernel_size: 2 pad: 1 stride: 2 dilation: 1 } }
layer { name: "d" type: "Deconvolution" bottom: "c" top: "d"
  convolution_param { num_output: 2 kernel_size: 2 stride: 2 group: 1 } }
layer { name: "r" type: "Reduction" bottom: "d" top: "r" reduction_param { operation: SUMSQ axis: 1 } }
""",
    # The V1 format.
    """name: "v1"
input: "data" input_dim: 1 input_dim: 3 input_dim: 8 input_dim: 8
layers { name: "conv" type: CONVOLUTION bottom: "data" top: "conv"
  convolution_param { num_output: 4 kernel_size: 3 } }
layers { name: "relu" type: RELU bottom: "conv" top: "conv" }
layers { name: "pool" type: POOLING bottom: "conv" top: "pool" pooling_param { pool: AVE kernel_size: 2 stride: 2 } }
layers { name: "fc" type: INNER_PRODUCT bottom: "pool" top: "fc" inner_product_param { num_output: 5 } }
layers { name: "loss" type: SOFTMAX_LOSS bottom: "fc" bottom: "label" top: "loss" }
""",
    # A train_val file: data layers, phase rules, a loss and an accuracy.
    """name: "train_val"
layer { name: "data" type: "Data" top: "data" top: "label" include { phase: TRAIN }
  transform_param { crop_size: 8 mirror: true } data_param { source: "train_lmdb" batch_size: 4 backend: LMDB } }
layer { name: "data" type: "ImageData" top: "data" top: "label" include { phase: TEST }
  transform_param { crop_size: 6 } image_data_param { source: "val.txt" batch_size: 2 new_height: 8 new_width: 8 } }
layer { name: "conv" type: "Convolution" bottom: "data" top: "conv"
  param { lr_mult: 1 } convolution_param { num_output: 4 kernel_size: 3 weight_filler { type: "xavier" } } }
layer { name: "bn" type: "BatchNorm" bottom: "conv" top: "conv" }
layer { name: "fc" type: "InnerProduct" bottom: "conv" top: "fc" inner_product_param { num_output: 3 } }
layer { name: "accuracy" type: "Accuracy" bottom: "fc" bottom: "label" top: "accuracy" include { phase: TEST } }
layer { name: "loss" type: "SoftmaxWithLoss" bottom: "fc" bottom: "label" top: "loss" }
""",
]


def prototxt_seeds():
    seeds = own_prototxts() + EXTRA_SEEDS
    for kind, text in test_snippets():
        if kind == "net":
            seeds.append(text)
        else:
            seeds.append(wrap_layer(text, False))
            match = re.search(r'type\s*:\s*"(\w+)"', text)
            if match and match.group(1) in TWO_BOTTOM_TYPES:
                seeds.append(wrap_layer(text, True))
    return seeds


def dictionary():
    proto = open(os.path.join(ROOT, "proto/predictor/caffe.proto")).read()
    words = set()
    for kind, name in re.findall(r"(?:optional|repeated|required)\s+(\S+)\s+(\w+)\s*=", proto):
        words.add(name + ":")
        if kind[0].isupper() and kind not in ("Phase",):
            words.add(name + " {")
    words.update(re.findall(r"^\s+([A-Z][A-Z0-9_]+)\s*=\s*\d+;", proto, re.M))
    builtin = open(os.path.join(ROOT, "src/layers/builtin_layers.cpp")).read()
    for layer_type in re.findall(r'\{"(\w+)",\s*&make_', builtin):
        words.add('"%s"' % layer_type)
    for layer_type in ("Data", "ImageData", "MemoryData", "HDF5Data", "WindowData", "DummyData",
                       "SoftmaxWithLoss", "Accuracy", "Silence", "EuclideanLoss"):
        words.add('"%s"' % layer_type)
    words.update(["{", "}", ":", '"', "#", "-1", "0", "1", "2", "3", "2147483647", "-2147483648",
                  "4294967296", "1e30", "nan", "inf", "true", "false", "TRAIN", "TEST"])

    def escape(word):
        return word.replace("\\", "\\\\").replace('"', '\\"')

    return "".join('"%s"\n' % escape(w) for w in sorted(words))


# --- .caffemodel re-encoding (plain protobuf wire format) ---------------------

def varint(value):
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_varint(data, pos):
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def fields(data):
    """(number, wire type, value) of a message; value bytes for wire type 2."""
    pos = 0
    while pos < len(data):
        key, pos = read_varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = read_varint(data, pos)
        elif wire == 1:
            value, pos = data[pos:pos + 8], pos + 8
        elif wire == 2:
            length, pos = read_varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = data[pos:pos + 4], pos + 4
        else:
            raise ValueError("unsupported wire type %d" % wire)
        yield number, wire, value


def field_bytes(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def field_varint(number, value):
    return varint(number << 3) + varint(value)


def encode(number, wire, value):
    if wire == 0:
        return field_varint(number, value)
    if wire == 2:
        return field_bytes(number, value)
    return varint(number << 3 | wire) + value


V1_TYPES = {"Convolution": 4, "Deconvolution": 39, "InnerProduct": 14}


def blob_variant(blob, legacy, doubles):
    """The BlobProto with legacy num/channels/height/width instead of `shape`
    (legacy) and/or double_data instead of data (doubles)."""
    dims, shape, floats, out = [], None, b"", b""
    for number, wire, value in fields(blob):
        if number == 7:
            shape = value
            for n, w, v in fields(value):
                if n == 1 and w == 2:
                    pos = 0
                    while pos < len(v):
                        d, pos = read_varint(v, pos)
                        dims.append(d)
                elif n == 1:
                    dims.append(v)
        elif number == 5:
            floats = value
        else:
            out += encode(number, wire, value)
    if legacy and shape is not None and len(dims) <= 4:
        for n, d in zip((1, 2, 3, 4), [1] * (4 - len(dims)) + dims):
            out += field_varint(n, d)
    elif shape is not None:
        out += field_bytes(7, shape)
    if doubles:
        values = struct.unpack("<%df" % (len(floats) // 4), floats)
        out += field_bytes(8, struct.pack("<%dd" % len(values), *values))
    else:
        out += field_bytes(5, floats)
    return out


def caffemodel_variants(data):
    """The file as V1 (`layers` with V1 types and legacy blob shapes: the
    layers V1 has) and with double-precision data."""
    v1, doubles = b"", b""
    for number, wire, value in fields(data):
        if number != 100:
            doubles += encode(number, wire, value)
            continue
        name, layer_type, blobs, rest = b"", "", [], b""
        for n, w, v in fields(value):
            if n == 1:
                name = v
            elif n == 2:
                layer_type = v.decode()
            elif n == 7:
                blobs.append(v)
            else:
                rest += encode(n, w, v)
        doubles += field_bytes(100, field_bytes(1, name) + field_bytes(2, layer_type.encode()) + rest +
                               b"".join(field_bytes(7, blob_variant(b, False, True)) for b in blobs))
        if layer_type in V1_TYPES:
            layer = field_bytes(4, name) + field_varint(5, V1_TYPES[layer_type])
            layer += b"".join(field_bytes(6, blob_variant(b, True, False)) for b in blobs)
            v1 += field_bytes(2, layer)
    return [v1, doubles]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", required=True)
    parser.add_argument("--caffemodel", nargs="*", default=[])
    args = parser.parse_args()

    seeds = prototxt_seeds()
    for text in seeds:
        write_seed(os.path.join(args.out, "prototxt"), text)
        small = re.sub(r"dim: 160 dim: 160", "dim: 32 dim: 32", text)
        write_seed(os.path.join(args.out, "net_forward"), small)
    for path in args.caffemodel:
        data = open(path, "rb").read()
        write_seed(os.path.join(args.out, "caffemodel"), data)
        for variant in caffemodel_variants(data):
            write_seed(os.path.join(args.out, "caffemodel"), variant)
    with open(os.path.join(args.out, "prototxt.dict"), "w") as out:
        out.write(dictionary())
    counts = {d: len(os.listdir(os.path.join(args.out, d)))
              for d in ("prototxt", "net_forward", "caffemodel") if os.path.isdir(os.path.join(args.out, d))}
    print("make_corpus: seeds " + ", ".join("%s %d" % kv for kv in sorted(counts.items())))


if __name__ == "__main__":
    main()
