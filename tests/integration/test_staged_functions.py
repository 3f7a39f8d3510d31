"""Each deployable folder works on its own: the staged copy alone serves its function."""

import subprocess
import sys

import pytest

from devstack import emulators
from devstack.stage import DEPLOYED, stage


@pytest.fixture(scope="module")
def staged(tmp_path_factory):
    return stage(tmp_path_factory.mktemp("staged"))


def test_every_function_is_staged_with_its_own_copy_of_shared(staged):
    assert set(staged) == set(DEPLOYED)
    for folder in staged.values():
        assert (folder / "main.py").is_file()
        assert (folder / "shared" / "http" / "router.py").is_file()
        assert (folder / "shared" / "policy" / "compiler.py").is_file()
        assert not (folder / "shared").is_symlink()
        assert not list(folder.rglob("__pycache__"))
        assert not (folder / "shared" / "amapi" / "fake.py").exists()  # tests only
        requirements = (folder / "requirements.txt").read_text()
        assert "functions-framework==" in requirements


def test_the_mcp_function_deploys_every_library_the_http_functions_use(staged):
    # Its tools reach every domain (profiles and their QR images, policies, devices): a
    # library missing from its folder would fail the first tool call in production only.
    def requirements(name):
        return set((staged[name] / "requirements.txt").read_text().split())

    needed = requirements("enroll") | requirements("policy") | requirements("commands")
    assert needed <= requirements("mcp")


def test_staged_copy_imports_its_own_shared_package(staged):
    folder = staged["enroll"]
    where = subprocess.run([sys.executable, "-c", "import shared; print(shared.__file__)"],
                           cwd=folder, capture_output=True, text=True, check=True).stdout
    assert where.strip() == str(folder / "shared" / "__init__.py")


CLOUD_EVENT_FUNCTIONS = {"notifications", "rollouts"}


@pytest.mark.parametrize("name", sorted(set(DEPLOYED) - CLOUD_EVENT_FUNCTIONS))
def test_staged_function_serves_healthz(staged, name, tmp_path):
    port = emulators.free_port()
    server = emulators.ManagedProcess(
        name, [sys.executable, "-m", "functions_framework", "--target", DEPLOYED[name][0],
               "--source", "main.py", "--host", "127.0.0.1", "--port", str(port)],
        tmp_path / "function.log", cwd=staged[name])
    server.start()
    try:
        emulators.wait_for_http(f"http://127.0.0.1:{port}/healthz", 30, server.process)
    finally:
        server.stop()


@pytest.mark.parametrize("name", sorted(CLOUD_EVENT_FUNCTIONS))
def test_staged_cloud_event_function_loads(staged, name):
    loaded = subprocess.run(
        [sys.executable, "-c", "import functions_framework as ff; "
         f"ff.create_app({DEPLOYED[name][0]!r}, 'main.py', 'cloudevent'); print('loaded')"],
        cwd=staged[name], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip().endswith("loaded")


def test_the_rollout_worker_is_staged_with_its_function(staged):
    folder = staged["rollouts"]
    assert (folder / "shared" / "policy" / "rollout_worker.py").is_file()
    assert (folder / "shared" / "pubsub.py").is_file()
    assert "def rollouts(" in (folder / "main.py").read_text()
