#!/usr/bin/env bash
# Installs the real MCP servers the MCP tests start through Bastion (tests/mcp/).
# They live in .test-servers/ inside the repository (ignored by git); the tests look there.
# Usage: scripts/install-test-servers.sh   (needs node >= 18 and npm)
set -euo pipefail
cd "$(dirname "$0")/.."
PREFIX=.test-servers
if ! command -v npm >/dev/null 2>&1; then
    echo "install-test-servers: npm not found (install Node.js 18+)" >&2
    exit 1
fi
mkdir -p "$PREFIX"
# A pinned version keeps the tool list the tests expect stable.
npm install --prefix "$PREFIX" --no-audit --no-fund --loglevel=error \
    "@modelcontextprotocol/server-filesystem@2026.8.31" \
    "@modelcontextprotocol/server-memory@2026.8.31"
test -f "$PREFIX/node_modules/@modelcontextprotocol/server-filesystem/dist/index.js"
test -f "$PREFIX/node_modules/@modelcontextprotocol/server-memory/dist/index.js"
echo "install-test-servers: server-filesystem and server-memory installed in $PREFIX"
