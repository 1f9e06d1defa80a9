"""The longest tests first. pytest-xdist hands the tests to its workers in collection order, one at a time as each
finishes, so a long test collected last keeps one worker busy after the other has run out: the suite takes as long
as its busiest worker. These are the longest on two cores (measured 2026-12-08, seconds in brackets); the order only
schedules the tests, it selects none, and a test missing from it runs after these, in collection order."""

LONGEST = [
    'test_quality.py::test_default_series_model_on_gunpoint',                  # 212
    'test_notebooks_run.py::test_notebook_runs_in_the_dlproj_kernel[04_model',   # 148
    'test_runtime_venv.py::test_onnx_predicts_in_a_venv_without_torch',         # 124
    'test_run_code.py::test_resume_and_reproduce_run_only_the_code_you_pass',   # 120
    'test_notebooks_run.py::test_notebook_runs_in_the_dlproj_kernel[tutorials/06',   # 100
    'test_notebooks_run.py::test_notebook_runs_in_the_dlproj_kernel[08a_export',   # 97
    'test_distributed.py::test_killed_launcher_resumes',                        # 97
    'test_resume.py::test_sigkill_then_resume',                                 # 97
    'test_distributed.py::test_killed_rank_resumes',                            # 88
    'test_tuning.py::test_killed_worker_holding_the_journal_lock',              # 87
    'test_distributed.py::test_check_repeats_a_two_process_run',                # 87
    'test_export.py::test_onnx_predicts_as_torch[resnet18]',                    # 80
    'test_tuning.py::test_workers_and_plain_runs_share_one_study',              # 78
    'test_notebooks_run.py::test_notebook_runs_in_the_dlproj_kernel[11_distributed',   # 67
    'test_tuning.py::test_killed_process_loses_no_finished_trial',              # 66
]

def pytest_collection_modifyitems(config, items):
    rank = lambda item: next((i for i,k in enumerate(LONGEST) if k in item.nodeid), len(LONGEST))
    items.sort(key=rank)   # a stable sort: the rest keep their order
