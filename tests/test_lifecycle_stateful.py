"""A stateful property test of the study life cycle (ask, suggest, report, tell, heartbeat,
expire, restart) against a simple model of what the coordinator should hold."""

from __future__ import annotations

import tempfile
import time

import grpc
from dbstate import database_digest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from hpo.server import Coordinator
from hpo.v1 import coordinator_pb2 as api
from hpo.v1 import coordinator_pb2_grpc as api_grpc
from hpo.v1 import study_pb2 as pb

UNIT = pb.Distribution(float_distribution=pb.FloatDistribution(low=0, high=1))
FINAL = {
    "COMPLETE": pb.TRIAL_STATE_COMPLETE,
    "PRUNED": pb.TRIAL_STATE_PRUNED,
    "FAIL": pb.TRIAL_STATE_FAILED,
}
LEASE = 30.0


class StudyLifeCycle(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.db = f"sqlite:///{self.folder.name}/hpo.db"
        self._start()
        self.stub.CreateStudy(
            api.CreateStudyRequest(
                name="s",
                directions=[pb.DIRECTION_MINIMIZE],
                lease_seconds=LEASE,
                retry_budget=1,
                sampler=pb.AlgorithmSpec(name="random"),
            )
        )
        # The model: per trial number, its state, params, reported steps, holder, retry_of.
        self.trials: list[dict] = []

    def _start(self) -> None:
        self.coordinator = Coordinator(self.db, port=0, reap_interval=3600).start()
        self.channel = grpc.insecure_channel(self.coordinator.address)
        self.stub = api_grpc.CoordinatorStub(self.channel)

    def _stop(self) -> None:
        self.channel.close()
        self.coordinator.stop(grace=1)

    def teardown(self) -> None:
        self._stop()
        self.folder.cleanup()

    def _refused(self, call, request, code=grpc.StatusCode.FAILED_PRECONDITION) -> None:
        """The call is refused with ``code`` and the database is exactly as it was."""
        before = database_digest(self.coordinator.storage.engine)
        try:
            call(request)
        except grpc.RpcError as e:
            assert e.code() == code, e.details()
        else:
            raise AssertionError(f"{request} was accepted")
        assert database_digest(self.coordinator.storage.engine) == before, "a refusal wrote"

    def _running(self) -> list[int]:
        return [n for n, t in enumerate(self.trials) if t["state"] == "RUNNING"]

    @rule(client=st.sampled_from(["", "w1", "w2"]))
    def ask(self, client: str) -> None:
        trial = self.stub.Ask(api.AskRequest(study="s", client_id=client)).trial
        held = [n for n in self._running() if client and self.trials[n]["holder"] == client]
        waiting = [n for n, t in enumerate(self.trials) if t["state"] == "WAITING"]
        if held:
            assert trial.number == held[0]
            return
        expected = waiting[0] if waiting else len(self.trials)
        assert trial.number == expected
        if not waiting:
            self.trials.append({"params": {}, "steps": {}, "retry_of": None})
        self.trials[expected].update(state="RUNNING", holder=client)

    @precondition(lambda self: self.trials)
    @rule(data=st.data(), name=st.sampled_from(["a", "b"]))
    def suggest(self, data, name: str) -> None:
        number = data.draw(st.integers(0, len(self.trials) - 1))
        trial = self.trials[number]
        request = api.SuggestRequest(study="s", trial_number=number, name=name, distribution=UNIT)
        if trial["state"] != "RUNNING":
            self._refused(self.stub.Suggest, request)
            return
        value = self.stub.Suggest(request).value.double_value
        assert 0 <= value <= 1
        assert trial["params"].setdefault(name, value) == value  # same name, same value

    @precondition(lambda self: self.trials)
    @rule(data=st.data(), step=st.integers(0, 3), value=st.floats(-1e6, 1e6))
    def report(self, data, step: int, value: float) -> None:
        number = data.draw(st.integers(0, len(self.trials) - 1))
        trial = self.trials[number]
        request = api.ReportRequest(study="s", trial_number=number, step=step, value=value)
        if trial["state"] != "RUNNING":
            self._refused(self.stub.Report, request)
            return
        self.stub.Report(request)
        trial["steps"].setdefault(step, value)  # the first value of a step wins

    @precondition(lambda self: self.trials)
    @rule(data=st.data(), outcome=st.sampled_from(sorted(FINAL)))
    def tell(self, data, outcome: str) -> None:
        number = data.draw(st.integers(0, len(self.trials) - 1))
        trial = self.trials[number]
        values = [0.5] if outcome == "COMPLETE" else []
        request = api.TellRequest(
            study="s", trial_number=number, state=FINAL[outcome], values=values
        )
        if trial["state"] != "RUNNING":
            self._refused(self.stub.Tell, request)
            return
        self.stub.Tell(request)
        trial["state"] = outcome

    @precondition(lambda self: self.trials)
    @rule(data=st.data())
    def heartbeat(self, data) -> None:
        number = data.draw(st.integers(0, len(self.trials) - 1))
        request = api.HeartbeatRequest(study="s", trial_number=number)
        if self.trials[number]["state"] != "RUNNING":
            self._refused(self.stub.Heartbeat, request)
            return
        assert self.stub.Heartbeat(request).lease_seconds == LEASE

    @rule()
    def expire(self) -> None:
        """Every running trial's lease runs out; first attempts are retried once."""
        expired = self.coordinator.service.expire_stale_leases(now=time.time() + 2 * LEASE)
        running = self._running()
        assert sorted(n for _, n in expired) == running
        for number in running:
            trial = self.trials[number]
            trial["state"] = "FAIL"
            if trial["retry_of"] is None:  # a retry of a retry would exceed the budget of 1
                self.trials.append(
                    {
                        "state": "WAITING",
                        "params": dict(trial["params"]),
                        "steps": {},
                        "retry_of": number,
                        "holder": "",
                    }
                )

    @rule()
    def restart(self) -> None:
        self._stop()
        self._start()

    @invariant()
    def coordinator_matches_model(self) -> None:
        trials = self.stub.ListTrials(api.ListTrialsRequest(study="s")).trials
        assert [t.number for t in trials] == list(range(len(self.trials)))
        for message, model in zip(trials, self.trials, strict=True):
            state = pb.TrialState.Name(message.state).removeprefix("TRIAL_STATE_")
            assert state.replace("FAILED", "FAIL") == model["state"]
            assert {p.name: p.value.double_value for p in message.params} == model["params"]
            assert {iv.step: iv.value for iv in message.intermediate_values} == model["steps"]
            if model["retry_of"] is not None:
                assert message.retry_of == model["retry_of"]


StudyLifeCycle.TestCase.settings = settings(
    max_examples=12,
    stateful_step_count=25,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
test_study_life_cycle = StudyLifeCycle.TestCase
