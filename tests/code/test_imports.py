"The library imports from any Python process, including `python -c` one-liners and pytest-xdist workers."
import ast
import subprocess
import sys
from pathlib import Path

SCRIPT = """
import importlib, pkgutil, churnops
names = sorted(m.name for m in pkgutil.iter_modules(churnops.__path__) if not m.name.startswith("_"))
for name in names:
    importlib.import_module(f"churnops.{name}")
# what the library imports inside its functions (validate, monitor, model, feature_store)
for lazy in ("great_expectations", "evidently", "mlflow.sklearn", "feast"):
    importlib.import_module(lazy)
print("imported", len(names))
"""


def test_every_module_imports_from_a_one_line_script(repo):
    # A process whose __main__ has no file (python -c, stdin, xdist workers) once ended silently with exit 0 at
    # `import great_expectations`: pyspark takes it for its own doctest run when its Connect extras are missing.
    result = subprocess.run([sys.executable, "-c", SCRIPT], cwd=repo, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    imported = result.stdout.split()
    assert imported[:1] == ["imported"] and int(imported[1]) >= 25, (result.stdout, result.stderr)


def churnops_imports(package: Path) -> dict[str, set[str]]:
    "Module -> the churnops modules it imports, at the top or inside its functions (both run when it is used)."
    modules = {p.stem for p in package.glob("*.py") if not p.stem.startswith("_")}
    graph = {}
    for name in modules:
        found = set()
        for node in ast.walk(ast.parse((package / f"{name}.py").read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
                found.add(node.module.split(".")[0])
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("churnops."):
                found.add(node.module.split(".")[1])
            elif isinstance(node, ast.ImportFrom) and node.module == "churnops":
                found.update(alias.name for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("churnops."))
        graph[name] = found & modules - {name}
    return graph


def test_the_library_has_no_import_circles(repo):
    "A module never reaches itself through the modules it imports: the house has floors (issue 41)."
    graph = churnops_imports(repo / "churnops")
    assert len(graph) >= 30 and "feature_definition" in graph["flink"]
    circles = []
    for start in graph:
        seen, todo = set(), list(graph[start])
        while todo:
            module = todo.pop()
            if module == start:
                circles.append(start)
                break
            if module not in seen:
                seen.add(module)
                todo.extend(graph[module])
    assert circles == [], f"modules that import themselves through others: {sorted(circles)}"


def notebook_of(nbs_lib: Path) -> dict[str, str]:
    "Module -> the nbs_lib notebook it is exported from (its name, which orders the library)."
    import json
    import re
    found = {}
    for notebook in nbs_lib.glob("*.ipynb"):
        for cell in json.loads(notebook.read_text())["cells"]:
            if m := re.search(r"#\|\s*default_exp\s+(\S+)", "".join(cell["source"])):
                found[m.group(1)] = notebook.stem
    return found


def test_nbs_lib_reads_top_to_bottom(repo):
    "A notebook imports only from notebooks before it, as nbdev projects read (issue 41.5)."
    graph, notebook = churnops_imports(repo / "churnops"), notebook_of(repo / "nbs_lib")
    assert set(graph) <= set(notebook), sorted(set(graph) - set(notebook))
    back = sorted(f"{notebook[a]} ({a}) imports {notebook[b]} ({b})" for a in graph for b in graph[a]
                  if notebook[b] > notebook[a])
    assert back == [], back


def test_rooms_stay_small(repo):
    "No module over 600 lines and no function over 120 (issue 41): a newcomer reads a room in one sitting."
    too_long = []
    for path in sorted((repo / "churnops").glob("*.py")):
        if path.stem.startswith("_"):
            continue
        text = path.read_text()
        if len(text.splitlines()) > 600:
            too_long.append(f"{path.name}: {len(text.splitlines())} lines")
        too_long += [f"{path.name}: {node.name} has {node.end_lineno - node.lineno + 1} lines"
                     for node in ast.walk(ast.parse(text))
                     if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.end_lineno - node.lineno >= 120]
    assert too_long == [], too_long
