"""schemathesis against the live OpenAPI schema: no input makes a server error, and every answer's
status code and media type is the one the schema documents. Bounded to about a minute."""

import shutil
import subprocess
import sys
from pathlib import Path

from tests.faults import serve


def test_fuzzing_the_schema_finds_no_server_error_and_no_undocumented_answer(settings, store, key, tmp_path):
    exe = shutil.which("schemathesis", path=str(Path(sys.executable).parent))
    assert exe, "schemathesis is a test dependency (pip install -e '.[test]')"
    with serve(settings) as url:
        out = subprocess.run(
            [
                exe,
                "run",
                f"{url}/openapi.json",
                "-H",
                f"Authorization: Bearer {key}",
                "-c",
                "not_a_server_error,status_code_conformance,content_type_conformance",
                "-n",
                "15",
                "--phases",
                "coverage,fuzzing",
                "--seed",
                "20261123",
                "--max-failures",
                "5",
                "--request-timeout",
                "30",
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=tmp_path,
        )  # its cache stays out of the repo
    assert out.returncode == 0, out.stdout[-6000:]
