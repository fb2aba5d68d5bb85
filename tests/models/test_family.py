"""Model families: one adapter per library behind one protocol, one registry line each; a name's
family is found without importing another family's library."""

from __future__ import annotations

import subprocess
import sys

import pytest

from headstart.errors import HeadstartError
from headstart.models.builtin import BUILTIN
from headstart.models.factory import create_backbone
from headstart.models.family import FAMILIES, check_model_name, get_family, split_name
from headstart.models.text import TEXT_NETS

SAMPLE = {"headstart": "resnet-mini", "torchvision": "resnet18", "timm": "resnet18", "hf": "<hf_folder>",
          "ultralytics": "yolov8n.yaml"}


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory):
    """A local Hugging Face checkpoint: bert-mini's config with a masked-LM head, fresh weights."""
    from transformers import BertForMaskedLM

    from headstart.models.text import default_ids, mini_config

    folder = tmp_path_factory.mktemp("hf") / "bert"
    BertForMaskedLM(mini_config("bert-mini", default_ids("bert", vocab_size=500))).save_pretrained(folder)
    return folder


def test_families__every_registered_family_has_a_sample_here():
    assert sorted(SAMPLE) == FAMILIES.names()


@pytest.mark.parametrize("name", FAMILIES.names())
def test_family__builds_what_it_lists_and_names_it_in_the_meta(name, request):
    if name == "ultralytics":
        pytest.importorskip("ultralytics")  # the optional extra headstart[yolo]
    adapter = get_family(name)
    model = str(request.getfixturevalue("hf_folder")) if name == "hf" else SAMPLE[name]
    assert model in adapter.names() or name == "hf"  # hf models are folders, not a list
    adapter.check(model)
    backbone = adapter.create(model, image_size=32)
    separator = ":" if name == "hf" else "/"
    assert backbone.meta.name == f"{name}{separator}{model}" and backbone.meta.family == name
    assert 32 <= adapter.auto_image_size(28) <= 224 or name in ("headstart", "hf")  # small/no images
    plain = adapter.plain_model(model, num_classes=7)
    if plain is not None:  # the library's constructor takes the backbone's tensors as they are
        missing = set(plain.state_dict()) - set(backbone.module.state_dict())
        assert missing == {f"{backbone.meta.head_name}.weight", f"{backbone.meta.head_name}.bias"}


def test_headstart_family__lists_every_builtin_net():
    assert get_family("headstart").names() == sorted([*BUILTIN, *TEXT_NETS])


@pytest.mark.parametrize(("name", "parts"), [
    ("timm/resnet18", ("timm", "resnet18")),
    ("hf:./models/bert-mini", ("hf", "./models/bert-mini")),
    ("headstart/vit-tiny", ("headstart", "vit-tiny")),
    ("resnet18", ("", "resnet18")),
])
def test_split_name__family_before_the_first_slash_or_colon(name, parts):
    assert split_name(name) == parts


@pytest.mark.parametrize(("name", "suggested"), [
    ("headstart/resnet-mnii", "headstart/resnet-mini"),
    ("resnet-mini", "headstart/resnet-mini"),
    ("timm/resnet188", "timm/resnet18"),
])
def test_check_model_name__error_suggests_the_full_name(name, suggested):
    with pytest.raises(HeadstartError, match=f"did you mean '{suggested}'"):
        check_model_name(name)


def test_check_model_name__a_builtin_name_imports_no_torch():
    code = ("import sys; from headstart.models.family import check_model_name; "
            "check_model_name('headstart/vit-tiny'); print(sorted(m for m in ('torch', 'timm', 'torchvision') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_create_backbone__unknown_family_lists_the_families():
    with pytest.raises(HeadstartError, match="headstart, hf, timm, torchvision, ultralytics"):
        create_backbone("keras/resnet18")


def test_ultralytics_family__without_the_extra_the_error_names_it(tmp_path):
    """Runs with or without Ultralytics installed: the package is blocked in a fresh interpreter."""
    code = ("import sys; sys.modules['ultralytics'] = None; from headstart.cli.main import main; "
            f"sys.exit(main(['pretrain', '--data', 'fashion-mnist', '--model', 'ultralytics/yolov8n.yaml', "
            f"'--out', {str(tmp_path / 'r')!r}, '--steps', '1']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and 'pip install "headstart[yolo]"' in proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "r").exists()
