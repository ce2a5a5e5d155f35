#!/usr/bin/python3
"""Writes the reference fixtures the C++ tests compare against, computed independently with PyTorch.

Run with Debian's PyTorch (apt-get install python3-torch):  /usr/bin/python3 tests/reference/make_fixtures.py
Every module tests/reference/cases_<family>.py defines cases() -> {case_name: {...}}; its cases are written to
tests/reference/fixtures/<family>.json. Each case holds plain lists (shapes, inputs, expected outputs and
gradients) so the tests need no torch at test time. Fixtures are committed; rerun only when cases change.
"""
import importlib.util
import json
import pathlib
import sys

import torch

HERE = pathlib.Path(__file__).resolve().parent


def to_list(t):
    """A tensor as {"shape": [...], "data": [...]} in float64 (row-major)."""
    t = t.detach().to(torch.float64).contiguous()
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


def main():
    torch.manual_seed(0)
    torch.set_default_dtype(torch.float64)
    only = set(sys.argv[1:])
    out_dir = HERE / "fixtures"
    out_dir.mkdir(exist_ok=True)
    for path in sorted(HERE.glob("cases_*.py")):
        family = path.stem[len("cases_"):]
        if only and family not in only:
            continue
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
        cases = module.cases()
        (out_dir / f"{family}.json").write_text(json.dumps(cases, separators=(",", ":")) + "\n")
        print(f"{family}: {len(cases)} cases -> fixtures/{family}.json")


if __name__ == "__main__":
    main()
