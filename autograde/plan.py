"""What a submission's grades depend on: the code the fast grader runs instead of the whole notebook.

A chapter notebook interleaves exercises with demonstrations (training runs, plots) that no grade
depends on; plain ``nbgrader autograde`` re-runs all of them for every student. :func:`plan` keeps

- every cell the student wrote or changed (an answer cell, a cell they added or edited), whole;
- every graded test cell, whole;
- of the other cells, which are the instructor's own code unchanged (the setup cell included), only
  the top-level statements that bind a name some kept code reads (found with Python's ``symtable``,
  so names read inside function bodies count, and names local to a function do not), or that may
  change the object such a name holds without rebinding it, and what those statements read in turn.
  A statement may change a needed object when it assigns to or deletes an attribute or item of it
  (``cfg.lr = 0.1``, ``d[0] = 1``), calls one of its methods (``xs.append(3)``), or passes it to a
  function (``random.shuffle(xs)``); a bare call of a needed module's function (``torch.manual_seed(0)``,
  ``torch.set_default_dtype(...)``) may change that module's state and is kept too. Names of modules,
  functions, classes and built-ins (not bound by a statement other than ``import``, ``def`` or
  ``class``) passed as arguments or used as receivers inside other statements (``x = np.zeros(3)``,
  ``map(int, xs)``, ``progress(train_step)``) do not keep a statement: calling code does not change it.

What is left out is what no check reads: demonstrations, plots, and the setup cell's seeding and
plot style. The checks pass each function its inputs, seeds included, so a function's outputs do
not depend on them (a function that draws from a global random state fails its checks either way).

Code is kept in notebook order. A name read through ``globals()``, ``exec`` or the like is invisible
to this analysis; the fast grader notices (a ``NameError`` in the run) and grades that submission
with the whole notebook instead (``autograde/grade.py``).
"""

from __future__ import annotations

import ast
import functools
import symtable
from dataclasses import dataclass


class _Everything(frozenset):
    """What ``from module import *`` binds: any name."""

    def __and__(self, other):
        return frozenset(other)


ANY = _Everything()


@dataclass(frozen=True)
class Statement:
    source: str
    binds: frozenset
    reads: frozenset
    targets: frozenset = frozenset()
    """Names whose object it changes by assigning or deleting an attribute or item."""
    touches: frozenset = frozenset()
    """Names whose object it passes to a call or calls a method of (which may change it)."""
    module_call: frozenset = frozenset()
    """For a bare call statement, the name whose attribute it calls (``torch`` in ``torch.manual_seed(0)``)."""
    defines: bool = False
    """An import, ``def`` or ``class``: what it binds is code, not data (see :func:`plan`)."""


def _root(node) -> str | None:
    """``xs`` for ``xs``, ``xs.a.b`` or ``xs[0].c``: the name whose object the expression reaches into;
    ``None`` for anything else (the result of a call, a literal) or a new object."""
    while True:
        if isinstance(node, ast.Name):
            return node.id
        if isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
            node = node.value
        else:
            return None


def _top_level_nodes(node):
    """The nodes of a statement that run when it runs (not the bodies of functions, classes and lambdas,
    the statement's own included)."""
    stack = [node]
    while stack:
        item = stack.pop()
        yield item
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            # decorators, defaults and bases run; the body does not
            if not isinstance(item, ast.Lambda):
                stack.extend(item.decorator_list)
            if isinstance(item, ast.ClassDef):
                stack.extend([*item.bases, *(k.value for k in item.keywords)])
            else:
                stack.extend([*item.args.defaults, *(d for d in item.args.kw_defaults if d is not None)])
        else:
            stack.extend(ast.iter_child_nodes(item))


def _changes(node) -> tuple[frozenset, frozenset, frozenset]:
    """(targets, touches, module_call) of a top-level statement (see :class:`Statement`)."""
    targets, touches = set(), set()
    for item in _top_level_nodes(node):
        written = []
        if isinstance(item, (ast.Assign, ast.Delete)):
            written = item.targets
        elif isinstance(item, (ast.AugAssign, ast.AnnAssign)):
            written = [item.target]
        for target in written:
            for part in ast.walk(target):
                if isinstance(part, (ast.Attribute, ast.Subscript)) and (name := _root(part)):
                    targets.add(name)
        if isinstance(item, ast.Call):
            if isinstance(item.func, ast.Attribute) and (name := _root(item.func.value)):
                touches.add(name)
            for arg in [*item.args, *(k.value for k in item.keywords)]:
                if name := _root(arg):
                    touches.add(name)
    module_call = frozenset()
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Attribute):
        module_call = frozenset(filter(None, [_root(node.value.func)]))
    return frozenset(targets), frozenset(touches), module_call


@functools.lru_cache(maxsize=4096)
def python_source(cell_source: str) -> str | None:
    """The cell as plain Python (IPython's magics and shell escapes translated), or ``None``."""
    from IPython.core.inputtransformer2 import TransformerManager

    try:
        return TransformerManager().transform_cell(cell_source)
    except Exception:
        return None


def _names(code: str) -> tuple[frozenset, frozenset]:
    """(names the code binds at module level, names it reads from module level, nested scopes included)."""
    table = symtable.symtable(code, "<cell>", "exec")
    binds = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}
    reads = {s.get_name() for s in table.get_symbols() if s.is_referenced()}
    stack = list(table.get_children())
    while stack:
        scope = stack.pop()
        stack.extend(scope.get_children())
        for s in scope.get_symbols():
            if s.is_global() and s.is_referenced():
                reads.add(s.get_name())
            if s.is_declared_global() and s.is_assigned():
                binds.add(s.get_name())
    return frozenset(binds), frozenset(reads)


@functools.lru_cache(maxsize=4096)
def statements(cell_source: str) -> tuple[Statement, ...] | None:
    """The cell's top-level statements with what each binds and reads; ``None`` if it does not parse."""
    code = python_source(cell_source)
    if code is None:
        return None
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    out = []
    for node in tree.body:
        text = ast.unparse(node)
        try:
            binds, reads = _names(text)
        except SyntaxError:  # e.g. a top-level `await`: keep the whole cell instead
            return None
        if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
            binds = ANY
        targets, touches, module_call = _changes(node)
        out.append(Statement(text, binds, reads, targets, touches, module_call,
                             isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef,
                                               ast.ClassDef))))
    return tuple(out)


def cell_reads(cell_source: str) -> frozenset | None:
    parts = statements(cell_source)
    return None if parts is None else frozenset().union(*(s.reads for s in parts))


def plan(cells: list[dict], release_sources: set[str]) -> list[tuple[int, str]]:
    """``[(cell index, code to run)]`` for a notebook's code cells, in order (see the module docstring).

    ``cells`` are nbformat cells after nbgrader's sanitizing (test cells restored); ``release_sources``
    the sources of the student notebook's code cells as released. A cell whose source is not among
    them is the student's and runs whole.
    """
    keep: dict[int, str] = {}
    needed: set[str] = set()
    whole_reads_unknown = False
    data = set()  # names of data: bound other than by an import, a def or a class (nor built in)
    for cell in cells:
        if cell.get("cell_type") == "code":
            for stmt in statements(cell.get("source", "")) or ():
                if not stmt.defines and stmt.binds is not ANY:
                    data |= stmt.binds
    for index in range(len(cells) - 1, -1, -1):
        cell = cells[index]
        if cell.get("cell_type") != "code" or not cell.get("source", "").strip():
            continue
        meta = cell.get("metadata", {})
        nbgrader = meta.get("nbgrader", {})
        source = cell["source"]
        always = nbgrader.get("grade") or nbgrader.get("solution") or source not in release_sources
        parts = statements(source)
        if always or parts is None:
            keep[index] = source
            reads = cell_reads(source)
            if reads is None:  # cannot be analysed: everything before it runs
                whole_reads_unknown = True
            else:
                needed |= reads
            continue
        if whole_reads_unknown:
            keep[index] = source
            continue
        chosen = []
        for stmt in reversed(parts):
            if (stmt.binds & needed or stmt.targets & needed or stmt.touches & data & needed
                    or stmt.module_call & needed):
                chosen.append(stmt)
                needed |= stmt.reads
        if chosen:
            keep[index] = "".join(s.source + "\n" for s in reversed(chosen))
    return sorted(keep.items())


@functools.lru_cache(maxsize=8)
def imported_modules(sources: frozenset) -> tuple[str, ...]:
    """The absolute module names the top-level ``import`` statements of ``sources`` name, sorted: what the
    fast grader's fork server imports once per chapter (from the instructor's cells, never a student's)."""
    names = set()
    for source in sources:
        code = python_source(source)
        try:
            tree = ast.parse(code) if code is not None else None
        except SyntaxError:
            continue
        for node in tree.body if tree is not None else ():
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module)
    return tuple(sorted(names))
