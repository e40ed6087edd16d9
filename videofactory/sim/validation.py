"""Submit-time validation of a prompt, answering exactly what ComfyUI 0.3.64 answers.

Same error types, messages, details and extra_info keys as ``execution.validate_prompt``, same
coercion of literals (the coerced values are written back into the prompt, as ComfyUI does),
and the same quirks: V3 ``COMBO`` inputs are not checked here, an error node's
``dependent_outputs`` collects every failing output, and exceptions while following links
(missing node, integer node id, output index out of range) are reported with their traceback.
"""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass, field
from typing import Any

from videofactory.sim.catalog import Catalog

__all__ = ["Validation", "full_type_name", "validate_prompt"]

Error = dict[str, Any]


def full_type_name(klass: type) -> str:
    """``module.Qualname`` of an exception class, or just the name for builtins."""
    module = klass.__module__
    return klass.__qualname__ if module == "builtins" else f"{module}.{klass.__qualname__}"


@dataclass
class Validation:
    """Result of validate_prompt: ok, top error, outputs to run, per-node errors."""

    ok: bool
    error: Error | None
    outputs: list[str] = field(default_factory=list)
    node_errors: dict[str, Any] = field(default_factory=dict)


def _error(type_: str, message: str, details: str, extra: dict[str, Any] | None = None) -> Error:
    return {"type": type_, "message": message, "details": details, "extra_info": extra or {}}


def _types_match(received: Any, expected: Any) -> bool:
    """ComfyUI's validate_node_input: equal, ``*`` on either side, or overlapping unions."""
    if received == expected or received == "*" or expected == "*":
        return True
    if not isinstance(received, str) or not isinstance(expected, str):
        return False
    got = {t.strip() for t in received.split(",")}
    want = {t.strip() for t in expected.split(",")}
    return bool(got & want)


def _coerce(input_type: Any, val: Any) -> Any:
    if input_type == "INT":
        return int(val)
    if input_type == "FLOAT":
        return float(val)
    if input_type == "STRING":
        return str(val)
    if input_type == "BOOLEAN":
        return bool(val)  # Python truthiness: the string "false" is True, as in ComfyUI
    return val


def _validate_inputs(
    catalog: Catalog,
    prompt: dict[str, Any],
    unique_id: Any,
    validated: dict[Any, tuple[bool, list[Error], Any]],
) -> tuple[bool, list[Error], Any]:
    if unique_id in validated:
        return validated[unique_id]
    inputs = prompt[unique_id]["inputs"]
    class_type = prompt[unique_id]["class_type"]
    info = catalog.info(class_type)
    impl = catalog.impl(class_type)
    spec = {**info["input"].get("required", {}), **info["input"].get("optional", {})}
    required = info["input"].get("required", {})
    custom_inputs = impl.validate_inputs
    errors: list[Error] = []
    valid = True

    for name, definition in spec.items():
        input_type = definition[0]
        extra = definition[1] if len(definition) > 1 else {}
        config = [input_type, extra]
        if name not in inputs:
            if name in required:
                errors.append(
                    _error(
                        "required_input_missing",
                        "Required input is missing",
                        name,
                        {"input_name": name},
                    )
                )
            continue
        val = inputs[name]
        if isinstance(val, list):
            if len(val) != 2:
                errors.append(
                    _error(
                        "bad_linked_input",
                        "Bad linked input, must be a length-2 list of [node_id, slot_index]",
                        name,
                        {"input_name": name, "input_config": config, "received_value": val},
                    )
                )
                continue
            o_id = val[0]
            o_class_type = prompt[o_id]["class_type"]  # KeyError for a missing/int id, on purpose
            received_type = catalog.return_types(o_class_type)[val[1]]  # IndexError likewise
            if not _types_match(received_type, input_type):
                errors.append(
                    _error(
                        "return_type_mismatch",
                        "Return type mismatch between linked nodes",
                        f"{name}, received_type({received_type}) mismatch input_type({input_type})",
                        {
                            "input_name": name,
                            "input_config": config,
                            "received_type": received_type,
                            "linked_node": val,
                        },
                    )
                )
                continue
            try:
                upstream = _validate_inputs(catalog, prompt, o_id, validated)
                if upstream[0] is False:
                    valid = False  # the upstream node carries the reasons
                    continue
            except Exception as ex:
                _, _, tb = sys.exc_info()
                valid = False
                validated[o_id] = (
                    False,
                    [
                        _error(
                            "exception_during_inner_validation",
                            "Exception when validating inner node",
                            str(ex),
                            {
                                "input_name": name,
                                "input_config": config,
                                "exception_message": str(ex),
                                "exception_type": full_type_name(type(ex)),
                                "traceback": traceback.format_tb(tb),
                                "linked_node": val,
                            },
                        )
                    ],
                    o_id,
                )
                continue
            continue

        try:
            if isinstance(val, dict) and "__value__" in val:
                val = val["__value__"]
                inputs[name] = val
            val = _coerce(input_type, val)
            inputs[name] = val
        except Exception as ex:
            errors.append(
                _error(
                    "invalid_input_type",
                    f"Failed to convert an input value to a {input_type} value",
                    f"{name}, {val}, {ex}",
                    {
                        "input_name": name,
                        "input_config": config,
                        "received_value": val,
                        "exception_message": str(ex),
                    },
                )
            )
            continue

        if name in custom_inputs:
            continue  # the node's own validator decides, like ComfyUI
        if "min" in extra and val < extra["min"]:
            errors.append(
                _error(
                    "value_smaller_than_min",
                    f"Value {val} smaller than min of {extra['min']}",
                    name,
                    {"input_name": name, "input_config": config, "received_value": val},
                )
            )
            continue
        if "max" in extra and val > extra["max"]:
            errors.append(
                _error(
                    "value_bigger_than_max",
                    f"Value {val} bigger than max of {extra['max']}",
                    name,
                    {"input_name": name, "input_config": config, "received_value": val},
                )
            )
            continue
        # Only classic combos ([options], {...}) are checked; V3 ["COMBO", {...}] are not.
        if isinstance(input_type, list) and val not in input_type:
            shown: Any = config
            listing = str(input_type)
            if len(input_type) > 20:  # long model lists are summarised
                listing = f"(list of length {len(input_type)})"
                shown = None
            errors.append(
                _error(
                    "value_not_in_list",
                    "Value not in list",
                    f"{name}: '{val}' not in {listing}",
                    {"input_name": name, "input_config": shown, "received_value": val},
                )
            )
            continue

    if impl.validate is not None:
        # Linked values are only known at run time; ComfyUI's validators see literals.
        given = {
            k: inputs[k] for k in custom_inputs if k in inputs and not isinstance(inputs[k], list)
        }
        answer = impl.validate(catalog.folders, **given)
        if answer is not True:
            for name in given:
                details = name if answer is False else f"{name} - {answer}"
                errors.append(
                    _error(
                        "custom_validation_failed",
                        "Custom validation failed for node",
                        details,
                        {"input_name": name},
                    )
                )

    result = (False, errors, unique_id) if errors or valid is not True else (True, [], unique_id)
    validated[unique_id] = result
    return result


def validate_prompt(
    catalog: Catalog, prompt: dict[str, Any], partial_targets: list[str] | None = None
) -> Validation:
    """Check a prompt; returns what POST /prompt needs to answer 200 or 400."""
    outputs: list[str] = []
    for x in prompt:
        if "class_type" not in prompt[x]:
            return Validation(
                False,
                _error(
                    "invalid_prompt",
                    "Cannot execute because a node is missing the class_type property.",
                    f"Node ID '#{x}'",
                ),
            )
        class_type = prompt[x]["class_type"]
        if class_type not in catalog:
            return Validation(
                False,
                _error(
                    "invalid_prompt",
                    f"Cannot execute because node {class_type} does not exist.",
                    f"Node ID '#{x}'",
                ),
            )
        if catalog.is_output(class_type) and (partial_targets is None or x in partial_targets):
            outputs.append(x)
    if not outputs:
        return Validation(False, _error("prompt_no_outputs", "Prompt has no outputs", ""))

    good: list[str] = []
    failed: list[tuple[str, list[Error]]] = []
    node_errors: dict[str, Any] = {}
    validated: dict[Any, tuple[bool, list[Error], Any]] = {}
    for o in outputs:
        try:
            valid, reasons, _ = _validate_inputs(catalog, prompt, o, validated)
        except Exception as ex:
            _, _, tb = sys.exc_info()
            valid = False
            reasons = [
                _error(
                    "exception_during_validation",
                    "Exception when validating node",
                    str(ex),
                    {
                        "exception_type": full_type_name(type(ex)),
                        "traceback": traceback.format_tb(tb),
                    },
                )
            ]
            validated[o] = (False, reasons, o)
        if valid is True:
            good.append(o)
            continue
        failed.append((o, reasons))
        # ComfyUI's quirk, kept: every node that failed so far gets this output as dependent.
        for node_id, (ok, node_reasons, _) in validated.items():
            if ok is not True and node_reasons:
                if node_id not in node_errors:
                    node_errors[node_id] = {
                        "errors": node_reasons,
                        "dependent_outputs": [],
                        "class_type": prompt[node_id]["class_type"],
                    }
                node_errors[node_id]["dependent_outputs"].append(o)

    if not good:
        details = "\n".join(f"{e['message']}: {e['details']}" for _, errs in failed for e in errs)
        return Validation(
            False,
            _error("prompt_outputs_failed_validation", "Prompt outputs failed validation", details),
            [],
            node_errors,
        )
    return Validation(True, None, good, node_errors)
