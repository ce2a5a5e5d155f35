#!/usr/bin/python3
"""Keras-layout files for tests/interop/keras_*_test.cpp, written with h5py from known arrays.

The layouts are those Keras's own saving code writes (group and attribute names, `kernel:0` weight names, HWIO
kernels, Conv2DTranspose kernels as (h, w, filters, in), BatchNormalization's gamma, beta, moving_mean,
moving_variance); the model configs are those Keras 2 (`model_config`) and Keras 3 (`config.json`) serialize. Keras
itself is not needed. Commands:

  unet WEIGHTS.safetensors OUT_DIR FILTERS CLASSES SIZE
      The seed U-Net (../shared/reference/seed_models.py, narrowed to FILTERS) holding the tensors of WEIGHTS (a
      tapegrad file, looked up by the Keras layer names), as unet_model.h5 (Keras 2 model.save), unet_weights.h5
      (Keras 2 save_weights), unet.keras (Keras 3 model.save) and unet.weights.h5 (Keras 3 save_weights).
  layers OUT_DIR
      A small model with every layer class tapegrad reads, its tensors drawn from a seeded generator: layers_model.h5
      (Keras 2 model.save), layers.keras (Keras 3) and expected.safetensors (the same tensors, "<layer>/<weight>").
  unknown OUT_DIR
      lstm_model.h5: a Keras 2 model.save file whose model holds an LSTM layer.
  sequential OUT_DIR
      seq_model.h5 (Keras 2 Sequential, input shape on its first layer), seq.keras (Keras 3 Sequential) and
      expected_seq.safetensors (their tensors).
  open-input OUT_DIR
      open_input_model.h5: the seed U-Net (4 filters) saved with Input((None, None, 1)).
  check-export EXPORTED.weights.h5 WEIGHTS.safetensors FILTERS CLASSES SIZE
      Checks that EXPORTED is the Keras 3 .weights.h5 of the seed U-Net holding the tensors of WEIGHTS: groups,
      dataset names, dtypes, shapes and values. Prints what differs and exits 1, or exits 0.
"""
import io
import json
import re
import struct
import sys
import zipfile

import h5py
import numpy as np

KERAS2_VERSION = "2.12.0"
KERAS3_VERSION = "3.3.3"


# ---- safetensors (the format README.md describes) ----

def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    dtypes = {"F32": np.float32, "F64": np.float64}
    return {name: np.frombuffer(data[e["data_offsets"][0]:e["data_offsets"][1]], dtypes[e["dtype"]])
            .reshape(e["shape"]).astype(np.float32)
            for name, e in header.items()}


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, array in tensors.items():
        raw = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


# ---- a functional model as Keras serializes it ----

def snake_case(name):
    """Keras's naming.to_snake_case, which names layers and, in Keras 3 weight files, their groups."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    name = re.sub("([a-z])([A-Z])", r"\1_\2", name)
    return name.lower()


def initializer(class_name, keras3):
    config = {} if class_name in ("Zeros", "Ones") else {"seed": None}
    if keras3:
        return {"module": "keras.initializers", "class_name": class_name, "config": config, "registered_name": None}
    return {"class_name": class_name, "config": config}


class Graph:
    """Layers in call order, named as a fresh Keras session names them; `weights` holds Keras's weight names
    (trainable first, then non-trainable) per layer, in Keras's order."""

    def __init__(self, keras3):
        self.keras3 = keras3
        self.layers = []  # dicts: class_name, name, config, inbound (names), shape (without batch), weights
        self.counts = {}

    def _name(self, class_name):
        if class_name == "InputLayer" and not self.keras3:
            self.counts["input"] = self.counts.get("input", 0) + 1
            return "input_%d" % self.counts["input"]
        base = snake_case(class_name)
        n = self.counts.get(base, 0)
        self.counts[base] = n + 1
        return base if n == 0 else "%s_%d" % (base, n)

    def add(self, class_name, config, inbound, shape, weights=()):
        name = self._name(class_name)
        common = {"name": name, "trainable": True}
        if class_name != "InputLayer":
            common["dtype"] = ({"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"},
                                "registered_name": None} if self.keras3 else "float32")
        self.layers.append({"class_name": class_name, "name": name, "config": dict(common, **config),
                            "inbound": list(inbound), "shape": list(shape), "weights": list(weights)})
        return name

    @staticmethod
    def without_input(g):
        """The same layers without the InputLayer (a Sequential model's model.layers)."""
        copy = Graph(g.keras3)
        copy.layers = [l for l in g.layers if l["class_name"] != "InputLayer"]
        return copy

    def shape_of(self, name):
        return next(l["shape"] for l in self.layers if l["name"] == name)

    def input(self, shape):
        key = "batch_shape" if self.keras3 else "batch_input_shape"
        config = {key: [None] + list(shape), "dtype": "float32", "sparse": False}
        if not self.keras3:
            config["ragged"] = False
        return self.add("InputLayer", config, [], shape)

    def conv(self, x, filters, kernel, activation="linear", padding="same", strides=(1, 1), use_bias=True,
             transpose=False):
        h, w, c = self.shape_of(x)
        class_name = "Conv2DTranspose" if transpose else "Conv2D"
        config = {"filters": filters, "kernel_size": list(kernel), "strides": list(strides), "padding": padding,
                  "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": activation,
                  "use_bias": use_bias, "kernel_initializer": initializer("HeNormal", self.keras3),
                  "bias_initializer": initializer("Zeros", self.keras3), "kernel_regularizer": None,
                  "bias_regularizer": None, "activity_regularizer": None, "kernel_constraint": None,
                  "bias_constraint": None}
        if transpose:
            del config["groups"]
            config["output_padding"] = None
            shape = [h * strides[0], w * strides[1], filters]
        elif padding == "same":
            shape = [-(-h // strides[0]), -(-w // strides[1]), filters]
        else:
            shape = [(h - kernel[0]) // strides[0] + 1, (w - kernel[1]) // strides[1] + 1, filters]
        # Keras's kernels: (kh, kw, in, filters); Conv2DTranspose's: (kh, kw, filters, in).
        kshape = [kernel[0], kernel[1], filters, c] if transpose else [kernel[0], kernel[1], c, filters]
        weights = [("kernel", kshape)] + ([("bias", [filters])] if use_bias else [])
        return self.add(class_name, config, [x], shape, weights)

    def batch_norm(self, x):
        c = self.shape_of(x)[-1]
        config = {"axis": -1 if self.keras3 else [3], "momentum": 0.99, "epsilon": 0.001, "center": True,
                  "scale": True, "beta_initializer": initializer("Zeros", self.keras3),
                  "gamma_initializer": initializer("Ones", self.keras3),
                  "moving_mean_initializer": initializer("Zeros", self.keras3),
                  "moving_variance_initializer": initializer("Ones", self.keras3), "beta_regularizer": None,
                  "gamma_regularizer": None, "beta_constraint": None, "gamma_constraint": None}
        if self.keras3:
            config["synchronized"] = False
        weights = [(w, [c]) for w in ("gamma", "beta", "moving_mean", "moving_variance")]
        return self.add("BatchNormalization", config, [x], self.shape_of(x), weights)

    def pool(self, x, size=2, average=False):
        h, w, c = self.shape_of(x)
        config = {"pool_size": [size, size], "padding": "valid", "strides": [size, size],
                  "data_format": "channels_last"}
        return self.add("AveragePooling2D" if average else "MaxPooling2D", config, [x], [h // size, w // size, c])

    def upsample(self, x, interpolation="nearest"):
        h, w, c = self.shape_of(x)
        config = {"size": [2, 2], "data_format": "channels_last", "interpolation": interpolation}
        return self.add("UpSampling2D", config, [x], [h * 2, w * 2, c])

    def dropout(self, x, rate):
        return self.add("Dropout", {"rate": rate, "noise_shape": None, "seed": None}, [x], self.shape_of(x))

    def concatenate(self, xs):
        shape = list(self.shape_of(xs[0]))
        shape[-1] = sum(self.shape_of(x)[-1] for x in xs)
        return self.add("Concatenate", {"axis": -1 if self.keras3 else 3}, xs, shape)

    def keras_config(self, output, model_name):
        layers = []
        for l in self.layers:
            entry = {"class_name": l["class_name"], "config": l["config"], "name": l["name"]}
            if self.keras3:
                entry = dict({"module": "keras.layers"}, **entry, registered_name=None)
                refs = [{"class_name": "__keras_tensor__",
                         "config": {"shape": [None] + self.shape_of(x), "dtype": "float32",
                                    "keras_history": [x, 0, 0]}} for x in l["inbound"]]
                args = [refs] if len(refs) > 1 else refs
                entry["inbound_nodes"] = [{"args": args, "kwargs": {}}] if refs else []
            else:
                entry["inbound_nodes"] = [[[x, 0, 0, {}] for x in l["inbound"]]] if l["inbound"] else []
            layers.append(entry)
        config = {"name": model_name, "trainable": True, "layers": layers,
                  "input_layers": [[self.layers[0]["name"], 0, 0]], "output_layers": [[output, 0, 0]]}
        if self.keras3:
            return {"module": "keras.src.models.functional", "class_name": "Functional", "config": config,
                    "registered_name": "Functional", "build_config": {"input_shape": None}, "compile_config": None}
        return {"class_name": "Functional", "config": config, "keras_version": KERAS2_VERSION,
                "backend": "tensorflow"}


def seed_unet(keras3, filters, classes, size):
    """The seed's unet() (../shared/reference/seed_models.py), base width `filters`, in its call order."""
    g = Graph(keras3)
    inputs = g.input([size, size, 1])
    x, skips = inputs, []
    for level in range(4):
        x = g.conv(x, filters << level, (3, 3), "relu")
        x = g.conv(x, filters << level, (3, 3), "relu")
        if level == 3:
            x = g.dropout(x, 0.5)
        skips.append(x)
        x = g.pool(x)
    x = g.conv(x, filters << 4, (3, 3), "relu")
    x = g.conv(x, filters << 4, (3, 3), "relu")
    x = g.dropout(x, 0.5)
    for level in reversed(range(4)):
        up = g.conv(g.upsample(x), filters << level, (2, 2), "relu")
        x = g.concatenate([skips[level], up])
        x = g.conv(x, filters << level, (3, 3), "relu")
        x = g.conv(x, filters << level, (3, 3), "relu")
    output = g.conv(x, classes, (1, 1), "softmax")
    return g, output


def all_layers_model(keras3):
    """Every layer class tapegrad reads, once: Conv2DTranspose with a non-square kernel and filters != inputs, so
    that its (h, w, filters, in) kernel order shows."""
    g = Graph(keras3)
    inputs = g.input([8, 8, 3])
    a = g.conv(inputs, 4, (3, 3), "relu")
    a = g.batch_norm(a)
    b = g.conv(a, 5, (2, 3), strides=(2, 2), transpose=True)  # 16x16x5
    b = g.pool(b)  # 8x8x5
    x = g.concatenate([a, b])  # 8x8x9
    x = g.pool(x, average=True)
    x = g.upsample(x, "bilinear")
    x = g.dropout(x, 0.25)
    x = g.add("ReLU", {"max_value": None, "negative_slope": 0.0, "threshold": 0.0}, [x], g.shape_of(x))
    x = g.conv(x, 3, (1, 1), use_bias=False)
    x = g.add("Add", {}, [x, inputs], g.shape_of(x))
    out = g.add("Activation", {"activation": "sigmoid"}, [x], g.shape_of(x))
    return g, out


# ---- the files ----

def keras2_weight_names(layer):
    # TF 2's variable names: "<layer>/<weight>:0".
    return ["%s/%s:0" % (layer["name"], w) for w, _ in layer["weights"]]


def write_keras2_weights(group, g, tensors):
    """save_weights_to_hdf5_group: layer_names, backend and keras_version attributes; per layer a group with a
    weight_names attribute and one dataset per weight, at the path its name gives."""
    group.attrs["layer_names"] = [l["name"].encode("utf8") for l in g.layers]
    group.attrs["backend"] = b"tensorflow"
    group.attrs["keras_version"] = KERAS2_VERSION.encode("utf8")
    for layer in sorted(g.layers, key=lambda l: l["name"]):
        sub = group.create_group(layer["name"])
        names = keras2_weight_names(layer)
        sub.attrs["weight_names"] = [n.encode("utf8") for n in names]  # [] becomes an empty float array, as in Keras
        for n, (w, _) in zip(names, layer["weights"]):
            sub.create_dataset(n, data=tensors["%s/%s" % (layer["name"], w)])


def write_keras2_model(path, g, output, tensors):
    with h5py.File(path, "w") as f:
        f.attrs["keras_version"] = KERAS2_VERSION.encode("utf8")
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps(g.keras_config(output, "model")).encode("utf8")
        write_keras2_weights(f.create_group("model_weights"), g, tensors)


def write_keras2_weights_file(path, g, tensors):
    with h5py.File(path, "w") as f:
        write_keras2_weights(f, g, tensors)


def keras3_paths(g):
    """Keras 3's saving_lib: model.layers saved under layers/<snake_case(class)>[_N], N counting per class."""
    counts, paths = {}, {}
    for layer in g.layers:
        base = snake_case(layer["class_name"])
        n = counts.get(base, 0)
        counts[base] = n + 1
        paths[layer["name"]] = "layers/" + (base if n == 0 else "%s_%d" % (base, n))
    return paths


def write_keras3_weights(f, g, tensors, optimizer=False):
    f.create_group("vars")  # the model's own variables (none)
    paths = keras3_paths(g)
    for layer in g.layers:
        vars_group = f.create_group(paths[layer["name"]]).create_group("vars")
        for i, (w, _) in enumerate(layer["weights"]):
            vars_group.create_dataset(str(i), data=tensors["%s/%s" % (layer["name"], w)])
    if optimizer:  # a compiled model's .keras also holds its optimizer's variables, which tapegrad leaves aside
        opt = f.create_group("optimizer").create_group("vars")
        opt.create_dataset("0", data=np.array(3, dtype=np.int64))
        opt.create_dataset("1", data=np.zeros(4, dtype=np.float32))


def write_keras3_weights_file(path, g, tensors):
    with h5py.File(path, "w") as f:
        write_keras3_weights(f, g, tensors)


def write_keras3_archive(path, g, output, tensors):
    weights = io.BytesIO()
    with h5py.File(weights, "w") as f:
        write_keras3_weights(f, g, tensors, optimizer=True)
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", json.dumps({"keras_version": KERAS3_VERSION, "date_saved": "2024-05-01@12:00:00"}))
        z.writestr("config.json", json.dumps(g.keras_config(output, "functional")))
        z.writestr("model.weights.h5", weights.getvalue())


def unet_files(weights_path, out_dir, filters, classes, size):
    tensors = read_safetensors(weights_path)
    g2, out2 = seed_unet(False, filters, classes, size)
    g3, out3 = seed_unet(True, filters, classes, size)
    write_keras2_model(out_dir + "/unet_model.h5", g2, out2, tensors)
    write_keras2_weights_file(out_dir + "/unet_weights.h5", g2, tensors)
    write_keras3_archive(out_dir + "/unet.keras", g3, out3, tensors)
    write_keras3_weights_file(out_dir + "/unet.weights.h5", g3, tensors)


def layers_files(out_dir):
    rng = np.random.default_rng(1234)
    g2, out2 = all_layers_model(False)
    g3, out3 = all_layers_model(True)
    tensors = {}
    for layer in g2.layers:
        for w, shape in layer["weights"]:
            values = rng.standard_normal(shape).astype(np.float32)
            tensors["%s/%s" % (layer["name"], w)] = np.abs(values) + 0.5 if w == "moving_variance" else values
    write_keras2_model(out_dir + "/layers_model.h5", g2, out2, tensors)
    # Keras 3 names its input layer input_layer; the other names are the same.
    write_keras3_archive(out_dir + "/layers.keras", g3, out3, tensors)
    write_safetensors(out_dir + "/expected.safetensors", tensors)


def open_input_files(out_dir):
    """The seed U-Net (4 filters) saved with its input sizes left open: Input((None, None, 1))."""
    g, out = seed_unet(False, 4, 2, 16)
    g.layers[0]["config"]["batch_input_shape"] = [None, None, None, 1]
    rng = np.random.default_rng(7)
    tensors = {"%s/%s" % (l["name"], w): rng.standard_normal(shape).astype(np.float32)
               for l in g.layers for w, shape in l["weights"]}
    write_keras2_model(out_dir + "/open_input_model.h5", g, out, tensors)


def sequential_config(g, keras3):
    """A Sequential model's config: layer entries without names or inbound nodes, in order. Keras 3 starts it with
    the InputLayer; early Keras 2 put the input shape on the first layer as batch_input_shape instead."""
    layers = []
    for l in g.layers:
        entry = {"class_name": l["class_name"], "config": dict(l["config"])}
        if keras3:
            entry = dict({"module": "keras.layers"}, **entry, registered_name=None)
        layers.append(entry)
    if not keras3:
        first = layers.pop(0)
        layers[0]["config"]["batch_input_shape"] = first["config"]["batch_input_shape"]
    config = {"name": "sequential", "trainable": True, "layers": layers}
    if keras3:
        return {"module": "keras", "class_name": "Sequential", "config": config, "registered_name": None}
    return {"class_name": "Sequential", "config": config, "keras_version": KERAS2_VERSION, "backend": "tensorflow"}


def sequential_files(out_dir):
    rng = np.random.default_rng(99)
    tensors = {}
    for keras3 in (False, True):
        g = Graph(keras3)
        x = g.input([8, 8, 2])
        x = g.conv(x, 3, (3, 3), "relu")
        x = g.batch_norm(x)
        x = g.pool(x)
        x = g.conv(x, 2, (1, 1), "softmax")
        for layer in g.layers:
            for w, shape in layer["weights"]:
                key = "%s/%s" % (layer["name"], w)
                tensors.setdefault(key, np.abs(rng.standard_normal(shape)).astype(np.float32) + 0.1)
        if keras3:
            weights = io.BytesIO()
            with h5py.File(weights, "w") as f:
                write_keras3_weights(f, Graph.without_input(g), tensors)
            with zipfile.ZipFile(out_dir + "/seq.keras", "w") as z:
                z.writestr("metadata.json", json.dumps({"keras_version": KERAS3_VERSION}))
                z.writestr("config.json", json.dumps(sequential_config(g, True)))
                z.writestr("model.weights.h5", weights.getvalue())
        else:
            with h5py.File(out_dir + "/seq_model.h5", "w") as f:
                f.attrs["keras_version"] = KERAS2_VERSION.encode("utf8")
                f.attrs["backend"] = b"tensorflow"
                f.attrs["model_config"] = json.dumps(sequential_config(g, False)).encode("utf8")
                write_keras2_weights(f.create_group("model_weights"), Graph.without_input(g), tensors)
    write_safetensors(out_dir + "/expected_seq.safetensors", tensors)


def unknown_files(out_dir):
    g, out = seed_unet(False, 2, 2, 16)
    config = g.keras_config(out, "model")
    lstm = {"class_name": "LSTM", "name": "lstm",
            "config": {"name": "lstm", "trainable": True, "dtype": "float32", "units": 4},
            "inbound_nodes": [[[g.layers[0]["name"], 0, 0, {}]]]}
    config["config"]["layers"].insert(1, lstm)
    with h5py.File(out_dir + "/lstm_model.h5", "w") as f:
        f.attrs["keras_version"] = KERAS2_VERSION.encode("utf8")
        f.attrs["backend"] = b"tensorflow"
        f.attrs["model_config"] = json.dumps(config).encode("utf8")
        f.create_group("model_weights").attrs["layer_names"] = [b"lstm"]


def check_export(exported, weights_path, filters, classes, size):
    tensors = read_safetensors(weights_path)
    g, _ = seed_unet(True, filters, classes, size)
    paths = keras3_paths(g)
    problems = []
    with h5py.File(exported, "r") as f:
        if sorted(f.keys()) != ["layers", "vars"]:
            problems.append("root groups %s, expected ['layers', 'vars']" % sorted(f.keys()))
        elif len(f["vars"]) != 0:
            problems.append("root vars/ is not empty")
        for layer in g.layers:
            path = paths[layer["name"]] + "/vars"
            if path not in f:
                problems.append("no group " + path)
                continue
            group = f[path]
            if sorted(group.keys()) != [str(i) for i in range(len(layer["weights"]))]:
                problems.append("%s holds %s" % (path, sorted(group.keys())))
                continue
            for i, (w, shape) in enumerate(layer["weights"]):
                d = group[str(i)]
                expected = tensors["%s/%s" % (layer["name"], w)]
                if d.dtype != np.float32 or list(d.shape) != shape:
                    problems.append("%s/%d: %s %s, expected float32 %s" % (path, i, d.dtype, d.shape, shape))
                elif not np.array_equal(d[()], expected):
                    problems.append("%s/%d differs from %s/%s" % (path, i, layer["name"], w))
    for p in problems:
        print(p)
    return 1 if problems else 0


def main(argv):
    command = argv[1]
    if command == "unet":
        unet_files(argv[2], argv[3], int(argv[4]), int(argv[5]), int(argv[6]))
    elif command == "layers":
        layers_files(argv[2])
    elif command == "unknown":
        unknown_files(argv[2])
    elif command == "sequential":
        sequential_files(argv[2])
    elif command == "open-input":
        open_input_files(argv[2])
    elif command == "check-export":
        return check_export(argv[2], argv[3], int(argv[4]), int(argv[5]), int(argv[6]))
    else:
        print("unknown command " + command)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
