"""Validate SparkApplications (Kubeflow spark-operator, sparkoperator.k8s.io/v1beta2) in YAML files against the
operator's API models (kubeflow-spark-api, generated from its CRD types; pinned in infra-tools/uv.lock): types,
required fields and enums by the models, and fields the CRD does not have, which the models would silently drop.
No npm package carries this CRD's schema (validate.mjs covers the others).
Usage: python sparkapplication.py FILE.yaml...   Exit code 1 and one line per error when a resource is invalid."""
import sys
import types
import typing

import yaml
from kubeflow_spark_api.models import SparkV1beta2ScheduledSparkApplication, SparkV1beta2SparkApplication
from pydantic import BaseModel, ValidationError

MODELS = {"sparkoperator.k8s.io/v1beta2/SparkApplication": SparkV1beta2SparkApplication,
          "sparkoperator.k8s.io/v1beta2/ScheduledSparkApplication": SparkV1beta2ScheduledSparkApplication}


def _models_in(annotation) -> list[type[BaseModel]]:
    "The model classes an annotation holds, through Optional, List and Dict."
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, list, dict, typing.Annotated):
        return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]
    return []


def _prepared(model: type[BaseModel], data, path: str, errors: list[str]):
    """`data` checked for fields `model` (and the models under it) does not define, which the models would drop
    silently, with each one-of value (a quantity such as "6g", an int-or-string port) turned into its model: the
    generated classes parse those in `from_dict` only, which loses the path of an error."""
    if "actual_instance" in model.model_fields:  # a one-of wrapper
        try:
            return model.from_dict(data)
        except ValueError:
            errors.append(f"{path}: not a {model.__name__.removeprefix('IoK8sApimachineryPkg')}: {data!r}")
            return data
    if not isinstance(data, dict):
        return data
    fields = {(field.alias or name): field for name, field in model.model_fields.items()}
    prepared = {}
    for key, value in data.items():
        if key not in fields:
            errors.append(f"{path}/{key}: unknown field")
            continue
        annotation = fields[key].annotation
        children = _models_in(annotation)
        if not children:
            prepared[key] = value
        elif isinstance(value, list):
            prepared[key] = [_prepared(children[0], item, f"{path}/{key}/{i}", errors) for i, item in enumerate(value)]
        elif isinstance(value, dict) and dict in (typing.get_origin(a) for a in (annotation, *typing.get_args(annotation))):
            prepared[key] = {k: _prepared(children[0], v, f"{path}/{key}/{k}", errors) for k, v in value.items()}
        else:
            prepared[key] = _prepared(children[0], value, f"{path}/{key}", errors)
    return prepared


def errors_of(obj: dict) -> list[str]:
    "What is wrong with one SparkApplication, as `path: message` lines (empty: valid)."
    model = MODELS[f"{obj['apiVersion']}/{obj['kind']}"]
    errors: list[str] = []
    prepared = _prepared(model, obj, "", errors)
    try:
        model.model_validate(prepared)  # nested models too, so an error's path is the whole path
    except ValidationError as error:
        errors += ["/" + "/".join(map(str, e["loc"])) + f": {e['msg']}" for e in error.errors()]
    return errors


if __name__ == "__main__":
    valid = invalid = 0
    for file in sys.argv[1:]:
        with open(file) as stream:
            for obj in yaml.safe_load_all(stream):
                if not obj or f"{obj.get('apiVersion')}/{obj.get('kind')}" not in MODELS:
                    continue
                errors = errors_of(obj)
                name = obj.get("metadata", {}).get("name", "(no name)")
                for error in errors:
                    print(f"{file}: {obj['kind']}/{name}: {error}")
                valid, invalid = valid + (not errors), invalid + bool(errors)
    print(f"{valid} SparkApplications valid, {invalid} invalid")
    sys.exit(1 if invalid else 0)
