"""Registry: names, entries, size validation, light import."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hdr_mcp.errors import InvalidArgument
from hdr_mcp.models import registry
from hdr_mcp.models.registry import families, family, names, validate_size

REAL = ["qwen-image", "qwen-image-2512", "flux.1-dev", "flux.2-klein-4b", "wan2.1-vace-1.3b",
        "wan2.1-vace-14b", "ltx-2.3"]


def test_every_family_and_its_tiny_twin_is_registered():
    assert list(names(include_tiny=False)) == REAL
    assert list(names()) == REAL + [f"tiny-{n}" for n in REAL]


def test_unknown_name_lists_every_known_name_including_tiny():
    with pytest.raises(InvalidArgument) as caught:
        family("sdxl")
    message = str(caught.value)
    assert message.startswith("model='sdxl': unknown model; known: qwen-image, ")
    assert all(n in message for n in names())


def test_lookup_is_case_insensitive():
    assert family(" FLUX.1-Dev ").name == "flux.1-dev"


@pytest.mark.parametrize("entry", families(), ids=lambda e: e.name)
def test_entry_is_complete_and_json_able(entry):
    data = entry.to_dict()
    json.dumps(data)
    assert entry.task in ("text-to-image", "video-to-video")
    assert (entry.frames is None) == (entry.task == "text-to-image")
    assert entry.sources and entry.lora_target_modules
    assert entry.latent.packing in ("qwen-packed", "flux-packed", "flux2", "wan", "ltx2")
    if not entry.tiny:
        assert entry.repository and entry.size_gb > 0 and entry.vram_gb >= entry.vram_gb_offload
        assert entry.revision_pinned == (len(entry.revision) == 40)
        assert data["allow_patterns"][0] == "model_index.json"


def test_clamping_vaes_are_the_ones_facts_names():
    clamps = {e.name for e in families(include_tiny=False) if e.latent.decode_clamps}
    assert clamps == {"qwen-image", "qwen-image-2512", "wan2.1-vace-1.3b", "wan2.1-vace-14b"}


def test_ltx_entry_carries_the_public_hdr_lora():
    lora = family("ltx-2.3").hdr_lora
    assert lora.repository == "Lightricks/LTX-2.3-22b-IC-LoRA-HDR"
    assert lora.filename == "ltx-2.3-22b-ic-lora-hdr-0.9.safetensors"
    assert lora.encoding == "logc3"


def test_width_message_names_argument_and_rule():
    with pytest.raises(InvalidArgument) as caught:
        validate_size("qwen-image", width=1000, height=1024)
    assert str(caught.value) == (
        "width=1000: qwen-image needs a multiple of 16 between 256 and 2048")


@pytest.mark.parametrize(
    ("name", "kwargs", "argument"),
    [
        ("ltx-2.3", {"width": 768, "height": 500}, "height"),
        ("ltx-2.3", {"num_frames": 120}, "num_frames"),
        ("wan2.1-vace-1.3b", {"num_frames": 80}, "num_frames"),
        ("flux.1-dev", {"num_frames": 9}, "num_frames"),
        ("flux.1-dev", {"width": 4096}, "width"),
        ("qwen-image", {"width": True}, "width"),
    ],
)
def test_bad_sizes_are_refused(name, kwargs, argument):
    with pytest.raises(InvalidArgument) as caught:
        validate_size(name, **kwargs)
    assert caught.value.argument == argument


def test_good_sizes_pass():
    validate_size("ltx-2.3", width=768, height=512, num_frames=121)
    validate_size("wan2.1-vace-14b", width=832, height=480, num_frames=81)
    validate_size("tiny-ltx-2.3", width=64, height=64, num_frames=9)


def test_importing_the_package_loads_no_heavy_library():
    code = ("import sys, hdr_mcp.models, hdr_mcp.models.registry; "
            "print([m for m in ('torch', 'diffusers', 'peft', 'numpy', 'huggingface_hub') "
            "if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_registry_module_is_the_single_source():
    assert registry.FAMILIES["tiny-wan2.1-vace-14b"].base == "wan2.1-vace-14b"
