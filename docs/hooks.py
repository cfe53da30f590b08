"MkDocs hook: the site's home page is README.md (one text for GitHub and the site), its docs/ links made site-relative."
from pathlib import Path

from mkdocs.structure.files import File


def on_files(files, config):
    readme = Path(config["config_file_path"]).parent / "README.md"
    text = readme.read_text().replace("](docs/", "](")
    files.append(File.generated(config, "index.md", content=text))
    return files
