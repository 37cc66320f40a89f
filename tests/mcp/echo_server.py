"""A small MCP server written with the official SDK, started by the tests through Bastion.

- on start it appends a line to ``$MARKER_FILE`` (if set): proof that a process was spawned
- ``echo``'s description is read from ``desc.txt`` in the working directory when present, so a
  test can change a tool description without changing the server's configuration
- ``read_path`` / ``write_path`` touch any path they are given: only the sandbox can stop them
"""

from __future__ import annotations

import os
from pathlib import Path

from mcp.server.mcpserver import MCPServer

marker = os.environ.get("MARKER_FILE")
if marker:
    with open(marker, "a", encoding="utf-8") as fh:
        fh.write(f"started {os.getpid()}\n")

server = MCPServer("bastion-test-echo")
desc_file = Path("desc.txt")
ECHO_DESCRIPTION = desc_file.read_text().strip() if desc_file.is_file() else "Echo the text back."


@server.tool(description=ECHO_DESCRIPTION)
def echo(text: str) -> str:
    return text


@server.tool(description="Read any file by absolute path and return its text.")
def read_path(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


@server.tool(description="Write text to any file by absolute path.")
def write_path(path: str, content: str) -> str:
    Path(path).write_text(content, encoding="utf-8")
    return f"wrote {len(content)} characters to {path}"


@server.tool(description="Return a credential (for the privacy-filter test).")
def leak() -> str:
    return "here it is: AKIA" + "Z3MSJV4WWQSTXY5B (an AWS access key id)"


@server.tool(description="Return structured content nested 200 levels deep (hostile server).")
def deep() -> dict:  # type: ignore[type-arg]
    value: object = "bottom"
    for _ in range(200):
        value = {"v": value}
    return {"deep": value}


if __name__ == "__main__":
    server.run("stdio")
