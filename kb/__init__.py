"""Knowledge base / Help Center: categories, sections, articles, search, votes, follows,
comments, authoring and the Markdown folder import/export. See kb/README.md."""
