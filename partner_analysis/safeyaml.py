"""One bounded YAML reader for every settings file the toolkit reads.

``district.yml``, ``kpis.yml``, goal files and column maps are written by people
and sometimes arrive from elsewhere, so reading one must not be a way to exhaust
memory or to smuggle a megabyte into every report page. :func:`read_yaml`
(a path) and :func:`parse_yaml` (text) therefore refuse, each with a one-line
message naming the file and the line:

- a file larger than :data:`MAX_YAML_BYTES`;
- a scalar (a name, a label, a description) longer than :data:`MAX_SCALAR_CHARS`;
- a document that, with its aliases expanded, has more than :data:`MAX_NODES`
  nodes (the "billion laughs" alias bomb), or an alias that refers to itself.

Anchors and aliases used in moderation stay allowed: column maps share entries
through ``x-...`` keys as docker-compose files do. Only the safe loaders of
PyYAML are used (no Python object tags).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .exceptions import ConfigError

__all__ = ["MAX_YAML_BYTES", "MAX_SCALAR_CHARS", "MAX_NODES", "read_yaml", "parse_yaml", "YamlLimitError"]

#: Largest settings file read (a district.yml is ~3 kB, the KPI catalog ~20 kB).
MAX_YAML_BYTES = 1_000_000
#: Longest single value (a school name, a KPI description); a report copies names into every page.
MAX_SCALAR_CHARS = 2_000
#: Most nodes a document may expand to when its aliases are followed.
MAX_NODES = 50_000


class YamlLimitError(ValueError):
    """A YAML text exceeded a limit; ``line`` is 1-based (None when the whole file is meant)."""

    def __init__(self, problem: str, line: int | None = None, fix: str | None = None):
        self.problem, self.line, self.fix = problem, line, fix
        super().__init__(problem)


def _check_node(root: yaml.Node) -> None:
    """Refuse over-long scalars, self-referencing aliases and an expanded size above MAX_NODES."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise YamlLimitError("an alias refers to the node that contains it (a recursive alias)",
                                 node.start_mark.line + 1, "Remove the recursive alias")
        if isinstance(node, yaml.ScalarNode):
            if len(node.value) > MAX_SCALAR_CHARS:
                raise YamlLimitError(f"a value of {len(node.value):,} characters is longer than the "
                                     f"{MAX_SCALAR_CHARS:,} allowed", node.start_mark.line + 1,
                                     "Shorten the value")
            sizes[key] = 1
            return 1
        active.add(key)
        total = 1
        children = node.value if isinstance(node, yaml.SequenceNode) else \
            [n for pair in node.value for n in pair]
        for child in children:
            total += size(child)
            if total > MAX_NODES:
                raise YamlLimitError(f"the document expands to more than {MAX_NODES:,} values (aliases "
                                     "repeating aliases)", node.start_mark.line + 1,
                                     "Write the values out, or use fewer nested aliases")
        active.discard(key)
        sizes[key] = total
        return total

    size(root)


def parse_yaml(text: str, *, loader: type = yaml.SafeLoader) -> Any:
    """Parse one YAML document within the limits of this module.

    Raises
    ------
    YamlLimitError
        A limit was exceeded.
    yaml.YAMLError
        The text is not valid YAML.
    """
    if len(text) > MAX_YAML_BYTES:
        raise YamlLimitError(f"the file holds {len(text):,} characters, more than the {MAX_YAML_BYTES:,} "
                             "a settings file may hold", None, "Check that this is the right file")
    if not issubclass(loader, (yaml.SafeLoader, yaml.BaseLoader)):
        raise TypeError("only PyYAML's safe loaders may be used")  # a programming error, not user input
    ld = loader(text)
    try:
        node = ld.get_single_node()
        if node is None:
            return None
        _check_node(node)
        return ld.construct_document(node)
    finally:
        ld.dispose()


def read_yaml(path: str | Path, *, missing: str = "file not found", fix: str | None = None,
              error: type = ConfigError, loader: type = yaml.SafeLoader, encoding: str = "utf-8-sig") -> Any:
    """Read a YAML settings file within the limits of this module.

    Parameters
    ----------
    path : path
    missing, fix : str
        Message and fix when the file does not exist.
    error : exception class
        :class:`~partner_analysis.exceptions.ConfigError` (default) or
        :class:`~partner_analysis.exceptions.InputDataError` (column maps, which name the line as ``row``).
    loader : a PyYAML SafeLoader subclass

    Raises
    ------
    ConfigError or InputDataError
        Missing file, a limit exceeded, or invalid YAML; the line is named.
    """
    path = Path(path)
    if not path.is_file():
        raise error(missing if path.exists() is False else "not a file", path=path, fix=fix)
    size = path.stat().st_size
    if size > MAX_YAML_BYTES:
        raise error(f"the file is {size:,} bytes, more than the {MAX_YAML_BYTES:,} a settings file may hold",
                    path=path, fix="Check that this is the right file")
    try:
        text = path.read_text(encoding=encoding)
    except UnicodeDecodeError as err:
        line = path.read_bytes()[:err.start].count(b"\n") + 1
        raise error(f"line {line}: the file is not UTF-8 text", path=path,
                    fix="Save the file as UTF-8") from None
    try:
        return parse_yaml(text, loader=loader)
    except YamlLimitError as err:
        raise _error(error, err.problem, path, err.line, err.fix) from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        problem = getattr(err, "problem", None) or str(err).splitlines()[0]
        fix = "Correct the YAML syntax (indentation, colons, quotes) at that line"
        if issubclass(error, ConfigError):
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise error(f"not valid YAML{where}: {problem}", path=path, fix=fix) from None
        raise error(f"not valid YAML: {problem}", path=path, row=None if mark is None else mark.line + 1,
                    column=None if mark is None else f"character {mark.column + 1}", fix=fix) from None


def _error(error: type, problem: str, path: Path, line: int | None, fix: str | None) -> Exception:
    if issubclass(error, ConfigError):
        # a ConfigError names keys, not rows: the line goes into the text
        return error(f"line {line}: {problem}" if line else problem, path=path, fix=fix)
    return error(problem, path=path, row=line, fix=fix)
