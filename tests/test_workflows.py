"""The GitHub Actions workflows keep their promises: every push and every pull request runs the README's test
command (``bash .ci/run``, which ends in ``make test``), and the Pages site is deployed only from a push to main,
after those tests passed (the deploy job needs the test job, directly or through the build)."""

from pathlib import Path

import pytest
import yaml  # PyYAML, installed with JupyterLab (jupyter_events needs it)

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
TEST_COMMAND = "bash .ci/run"


def load_workflows(folder: Path = WORKFLOWS) -> dict[str, dict]:
    return {p.name: yaml.safe_load(p.read_text()) for p in sorted(folder.glob("*.y*ml"))}


def _triggers(workflow: dict) -> dict:
    on = workflow.get("on", workflow.get(True))  # YAML 1.1 reads the bare key `on` as true
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return dict.fromkeys(on)
    return on or {}


def _runs(job: dict) -> list[str]:
    return [step.get("run", "") for step in job.get("steps", [])]


def _uses(job: dict) -> list[str]:
    return [step.get("uses", "").split("@")[0] for step in job.get("steps", [])]


def _needs(job: dict) -> list[str]:
    needs = job.get("needs", [])
    return [needs] if isinstance(needs, str) else list(needs)


def _upstream(jobs: dict, name: str) -> set[str]:
    seen, todo = set(), _needs(jobs[name])
    while todo:
        need = todo.pop()
        if need not in seen and need in jobs:
            seen.add(need)
            todo += _needs(jobs[need])
    return seen


def workflow_problems(workflows: dict[str, dict]) -> list[str]:
    """What the workflows fail to promise (see the module docstring); empty if they keep it all."""
    problems = []
    testing = {}  # workflow file -> its jobs that run the test command on every push and pull request
    for name, workflow in workflows.items():
        triggers = _triggers(workflow)
        unfiltered = all(event in triggers and not (triggers[event] or {}).keys() & {
            "branches", "branches-ignore", "paths", "paths-ignore", "tags"} for event in ("push", "pull_request"))
        jobs = workflow.get("jobs", {})
        runs_tests = [job for job, spec in jobs.items() if any(TEST_COMMAND in run for run in _runs(spec))
                      and "if" not in spec]
        if unfiltered and runs_tests:
            testing[name] = runs_tests
    if not testing:
        problems.append(f"no workflow runs `{TEST_COMMAND}` on every push and every pull request (no filters, no `if`)")
    for name, workflow in workflows.items():
        jobs = workflow.get("jobs", {})
        for job, spec in jobs.items():
            if "actions/deploy-pages" not in _uses(spec):
                continue
            if not _upstream(jobs, job) & set(testing.get(name, [])):
                problems.append(f"{name}: job {job!r} deploys the site without needing the job that runs "
                                f"`{TEST_COMMAND}` in the same workflow")
            chain = [spec] + [jobs[j] for j in _upstream(jobs, job)]
            if not any("github.event_name == 'push'" in str(s.get("if", "")) and "refs/heads/main" in str(s.get("if"))
                       for s in chain):
                problems.append(f"{name}: job {job!r} deploys from pull requests or other branches too: give it "
                                "`if: github.event_name == 'push' && github.ref == 'refs/heads/main'`")
    return problems


def test_the_workflows_test_every_push_and_pull_request_and_deploy_only_tested_main():
    workflows = load_workflows()
    assert workflows, f"no workflow in {WORKFLOWS}"
    problems = workflow_problems(workflows)
    assert not problems, "\n".join(problems)
    assert any("actions/deploy-pages" in _uses(job) for w in workflows.values() for job in w["jobs"].values()), (
        "no workflow deploys the site to GitHub Pages")


def test_the_test_command_of_the_workflow_is_the_one_the_readme_names():
    ci = [line for line in (ROOT / ".ci" / "run").read_text().splitlines() if line and not line.startswith("#")]
    assert ci[-1].strip() == "make test" and "make test" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("plant", ["no pull request", "branch filter", "no needs", "needs only the build",
                                   "deploy from any branch", "test job skipped"])
def test_each_broken_workflow_is_caught(plant):
    workflows = load_workflows()
    name = next(n for n, w in workflows.items() if any("actions/deploy-pages" in _uses(j) for j in w["jobs"].values()))
    workflow = workflows[name]
    triggers, jobs = _triggers(workflow), workflow["jobs"]
    deploy = next(j for j, spec in jobs.items() if "actions/deploy-pages" in _uses(spec))
    if plant == "no pull request":
        triggers.pop("pull_request")
    elif plant == "branch filter":
        triggers["pull_request"] = {"branches": ["main"]}
    elif plant == "no needs":
        jobs[deploy].pop("needs")
    elif plant == "needs only the build":
        for upstream in _upstream(jobs, deploy):
            jobs[upstream].pop("needs", None)
    elif plant == "deploy from any branch":
        for spec in jobs.values():
            spec.pop("if", None)
    elif plant == "test job skipped":
        next(spec for spec in jobs.values() if TEST_COMMAND in "".join(_runs(spec)))["if"] = "false"
    assert workflow_problems(workflows), f"{plant}: not caught"
