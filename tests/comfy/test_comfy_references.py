"""Reference slots of the edit templates (pure): the slots a task does not fill are taken out
as a ComfyUI user would bypass them, and every variant passes preflight on a real catalogue
with only the model files missing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from videofactory.comfy.preflight import check_graph
from videofactory.comfy.references import drop_references, reference_slots
from videofactory.comfy.workflow import load_template

pytestmark = pytest.mark.core

REAL = json.loads((Path(__file__).parent / "data" / "object_info_templates.json").read_text())
BASE = {"prompt": "the warrior walks on", "seed": 3, "width": 1280, "height": 720,
        "output_prefix": "videofactory/r/s1_keyframe"}  # fmt: skip


def refs(n: int) -> dict[str, str]:
    return {f"reference_{i}": f"videofactory/r/ref{i}.png" for i in range(1, n + 1)}


def test_qwen_edit_drops_loaders_and_optional_image_inputs():
    wf = load_template("keyframe", "qwen_edit")
    assert reference_slots(wf.bindings) == 3
    full = wf.bind({**BASE, **refs(3)})
    assert full["111"]["inputs"]["image3"] == ["80", 0]
    assert full["80"]["inputs"]["image"] == "videofactory/r/ref3.png"
    two = wf.bind({**BASE, **refs(2)})
    assert "80" not in two and set(full) - set(two) == {"80"}
    for enc in ("111", "110"):  # both encoders see the same pictures, as in ComfyUI's template
        assert "image3" not in two[enc]["inputs"] and two[enc]["inputs"]["image2"] == ["79", 0]
    none = wf.bind(BASE)
    assert not {"78", "79", "80"} & set(none)
    assert not {"image1", "image2", "image3"} & set(none["111"]["inputs"])
    assert none["111"]["inputs"]["vae"] == ["39", 0]  # the rest is untouched


def test_flux_kontext_bypasses_an_unfilled_reference_latent():
    wf = load_template("keyframe", "flux_kontext")
    one = wf.bind({**BASE, **refs(1)})
    # Reference 2 and 3 lose their loader, scale and encode; their ReferenceLatent keeps the
    # conditioning chain and passes it through (its latent is optional).
    assert not {"42", "43", "45", "46", "48", "49"} & set(one)
    assert one["51"]["inputs"] == {"conditioning": ["50", 0]}
    assert one["52"]["inputs"] == {"conditioning": ["51", 0]}
    assert one["35"]["inputs"]["conditioning"] == ["52", 0]
    assert one["50"]["inputs"]["latent"] == ["47", 0]


def test_a_required_input_that_loses_its_source_takes_its_node_with_it():
    graph = {
        "1": {"class_type": "LoadImage", "inputs": {"image": "a.png"}},
        "2": {"class_type": "VAEEncode", "inputs": {"pixels": ["1", 0], "vae": ["9", 0]}},
        "3": {"class_type": "ReferenceLatent", "inputs": {"conditioning": ["8", 0],
                                                          "latent": ["2", 0]}},
        "9": {"class_type": "VAELoader", "inputs": {"vae_name": "ae.safetensors"}},
    }  # fmt: skip
    wf = load_template("keyframe", "sim_edit")
    bindings = {"reference_1": type(wf.bindings["reference_1"])("1", "image")}
    out = drop_references(graph, bindings, keep=0)
    assert set(out) == {"3", "9"} and out["3"]["inputs"] == {"conditioning": ["8", 0]}
    assert graph["3"]["inputs"]["latent"] == ["2", 0]  # the graph given is not changed


@pytest.mark.parametrize("name", ["qwen_edit", "flux_kontext"])
@pytest.mark.parametrize("count", [0, 1, 2, 3])
def test_every_variant_only_misses_model_files_on_a_real_catalogue(name, count):
    wf = load_template("keyframe", name)
    graph = wf.bind({**BASE, **refs(count)})
    loaders = {t for i in range(1, count + 1) for t in wf.bindings[f"reference_{i}"].targets}
    problems = check_graph(graph, REAL, runtime=loaders)
    assert problems and {p.kind for p in problems} == {"missing_model"}, [str(p) for p in problems]
