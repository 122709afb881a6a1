"""Running the repository's notebooks in a real kernel (nbclient / jupyter_client)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def execute(name: str, folder: Path, timeout: int = 300) -> Any:
    """Run a notebook from the repository in ``folder`` (its .kadam goes there); a cell that
    raises fails the call with the cell and its traceback."""
    path = folder / name
    shutil.copy(NOTEBOOKS / name, path)
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(folder)}},
        store_widget_state=True,
    )
    client.execute()
    return notebook


def outputs_of(notebook: Any, first_line: str) -> str:
    """The text a cell showed (streams and text/plain), found by its first line."""
    for cell in notebook.cells:
        if cell.cell_type == "code" and cell.source.splitlines()[0] == first_line:
            parts = []
            for out in cell.outputs:
                if out.output_type == "stream":
                    parts.append(out.text)
                elif "data" in out:
                    parts.append(out.data.get("text/plain", ""))
            return "".join(parts)
    raise AssertionError(f"no cell starting with {first_line!r}")
