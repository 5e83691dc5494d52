"""The argument parser shared by %savedmodel and `jupyter workbench export`."""

import argparse

import pytest

from jupyter_workbench.export import ExportError
from jupyter_workbench.export.options import add_export_arguments, export_kwargs, parse_pairs
from jupyter_workbench.export.sizes import format_size, parse_size


def parse(argv):
    parser = argparse.ArgumentParser(prog="jupyter workbench export")
    add_export_arguments(parser)
    return parser.parse_args(argv)


def test_all_options_become_export_kwargs():
    # Given a full command line
    argv = [
        "model.ckpt-10", "oss://bucket/models/mnist", "--version", "3",
        "--signature", "predict_images", "--input", "image=x:0", "--output", "scores=y:0",
        "--output", "classes=cls:0", "--checkpoint", "ckpt/model-3", "--overwrite",
        "--no-verify", "--weights-dtype", "float16", "--max-size", "500MB",
    ]  # fmt: skip
    # When it is parsed
    ns = parse(argv)
    kwargs = export_kwargs(ns)
    # Then SOURCE/DEST stay strings and the options map onto export_savedmodel's keywords
    assert (ns.source, ns.destination) == ("model.ckpt-10", "oss://bucket/models/mnist")
    assert kwargs == {
        "version": 3,
        "signature_name": "predict_images",
        "inputs": {"image": "x:0"},
        "outputs": {"scores": "y:0", "classes": "cls:0"},
        "checkpoint": "ckpt/model-3",
        "overwrite": True,
        "verify": False,
        "weights_dtype": "float16",
        "max_size": "500MB",
    }


def test_defaults():
    # Given only SOURCE and DEST
    # When parsed
    kwargs = export_kwargs(parse(["m.keras", "models/m"]))
    # Then every option has export_savedmodel's default
    assert kwargs == {
        "version": None,
        "signature_name": "serving_default",
        "inputs": None,
        "outputs": None,
        "checkpoint": None,
        "overwrite": False,
        "verify": True,
        "weights_dtype": None,
        "max_size": None,
    }


def test_bare_names_are_positional_renames():
    # Given --output values without '='
    # When parsed
    kwargs = export_kwargs(parse(["m", "d", "--output", "scores", "--output", "value"]))
    # Then they are a list of names
    assert kwargs["outputs"] == ["scores", "value"]


@pytest.mark.parametrize(
    "values, message",
    [
        (["image=x:0", "label"], "mix of NAME=TENSOR"),
        (["=x:0"], "is not NAME=TENSOR"),
        (["image="], "is not NAME=TENSOR"),
        (["image=x:0", "image=z:0"], "given twice"),
    ],
)
def test_malformed_pairs_are_clear_errors(values, message):
    # Given malformed --input values
    # When parsed
    with pytest.raises(ExportError, match=message) as info:
        parse_pairs(values, "--input")
    # Then the message names the option
    assert "--input" in str(info.value)


def test_bad_max_size_fails_before_export():
    # Given --max-size with an unknown unit
    ns = parse(["m", "d", "--max-size", "12 parsecs"])
    # When the kwargs are built
    with pytest.raises(ExportError, match="--max-size='12 parsecs' is not a size"):
        export_kwargs(ns)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("500MB", 500 * 10**6),
        ("10GB", 10 * 10**9),
        ("1.5 GB", 1_500_000_000),
        ("2GiB", 2 * 2**30),
        ("300k", 300_000),
        ("1024", 1024),
        (2048, 2048),
        (None, None),
    ],
)
def test_sizes(text, expected):
    # Given a size as users write it / When parsed / Then it is bytes
    assert parse_size(text) == expected


def test_format_size():
    # Given byte counts / When formatted / Then they read like the limits in the docs
    assert format_size(512) == "512 B"
    assert format_size(612_300_000) == "612.3 MB"
    assert format_size(12_000_000_000) == "12.0 GB"
