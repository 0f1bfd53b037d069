"""An import-linter contract type of Assay's own: no import cycle between any two modules.

import-linter's ``acyclic_siblings`` compares the children of one package with each other, each
child with everything below it squashed in; it does not see a cycle between a package's
``__init__`` and a module inside it (``core.audit`` -> ``core.audit.record`` -> ``core.audit``).
This contract looks at the plain module graph, imports inside functions included (grimp reads
every import statement), so every cycle either contract can name is caught by one of them.

Registered in pyproject.toml (``contract_types``); ``lint-imports`` runs from the repository root,
which it puts on ``sys.path``, so this file is found as ``scripts.import_contracts``.
"""

from __future__ import annotations

from itertools import pairwise

from grimp import ImportGraph
from importlinter import Contract, ContractCheck, output


class AcyclicModulesContract(Contract):
    """Fails on every strongly connected set of modules (each one reaches all the others)."""

    type_name = "acyclic_modules"

    def check(self, graph: ImportGraph, verbose: bool) -> ContractCheck:
        groups = [(group, _example_cycle(graph, group)) for group in _cyclic_groups(graph)]
        return ContractCheck(kept=not groups, metadata={"groups": groups})

    def render_broken_contract(self, check: ContractCheck) -> None:
        for group, cycle in check.metadata["groups"]:
            # Cycles that share a module merge into one group: name every module, show one cycle.
            output.print_error(f"{len(group)} modules import each other round: {', '.join(group)}")
            output.print_error(f"For example: {' -> '.join(m for m, _ in cycle)}", bold=False)
            for module, line in cycle[:-1]:
                output.indent_cursor()
                output.print_error(f"{module}: {line}", bold=False)
            output.new_line()


def _cyclic_groups(graph: ImportGraph) -> list[list[str]]:
    """The strongly connected components of two or more modules (Tarjan, without recursion)."""
    imports = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in sorted(graph.modules)}
    order: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in imports:
        if root in order:
            continue
        work = [(root, 0)]
        while work:
            module, position = work.pop()
            if position == 0:
                order[module] = lowest[module] = len(order)
                stack.append(module)
                on_stack.add(module)
            targets = imports[module]
            if position < len(targets):
                work.append((module, position + 1))
                target = targets[position]
                if target not in order:
                    work.append((target, 0))
                elif target in on_stack:
                    lowest[module] = min(lowest[module], order[target])
                continue
            if work:  # done with module: its caller inherits what it reached
                caller = work[-1][0]
                lowest[caller] = min(lowest[caller], lowest[module])
            if lowest[module] == order[module]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == module:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return sorted(groups)


def _example_cycle(graph: ImportGraph, group: list[str]) -> list[tuple[str, str]]:
    """One cycle through the group's first module, each step with the import line that makes it."""
    start = group[0]
    following = next(m for m in sorted(graph.find_modules_directly_imported_by(start))
                     if m in group)
    back = graph.find_shortest_chain(importer=following, imported=start) or (following, start)
    chain = (start, *back)
    steps = []
    for importer, imported in pairwise(chain):
        details = graph.get_import_details(importer=importer, imported=imported)
        where = (f"line {details[0]['line_number']}: {details[0]['line_contents']}"
                 if details else "")
        steps.append((importer, where))
    steps.append((start, ""))
    return steps
