"""Read-only access for coding assistants over the Model Context Protocol (stdio and streamable HTTP)."""
