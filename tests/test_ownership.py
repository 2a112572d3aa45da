"""Principals own their studies: another principal is denied (and writes nothing); an admin
may do everything."""

from __future__ import annotations

import pytest
from dbstate import database_digest as db_digest

import hpo
from hpo.client import connect
from hpo.client._connection import ClientSecurity
from hpo.server import Coordinator, ServerSecurity, add_token
from hpo.v1 import coordinator_pb2 as api


def db_state(coordinator: Coordinator) -> str:
    return db_digest(coordinator.storage.engine)


def test_studies_belong_to_their_creator(sqlite_url, tmp_path) -> None:
    tokens = tmp_path / "tokens"
    alice, bob = add_token(tokens, "alice"), add_token(tokens, "bob")
    carol = add_token(tokens, "carol", "admin")
    security = ServerSecurity(token_file=str(tokens))  # loopback: tokens without TLS
    with Coordinator(sqlite_url, port=0, security=security) as coordinator:
        address = coordinator.address

        def as_(token: str):
            return connect(address, ClientSecurity(token=token))

        as_(alice).call("CreateStudy", api.CreateStudyRequest(name="mine", directions=[1]))
        trial = as_(alice).call("Ask", api.AskRequest(study="mine")).trial.number
        assert as_(alice).call("GetStudy", api.GetStudyRequest(name="mine")).name == "mine"

        before = db_state(coordinator)
        for method, request in [
            ("GetStudy", api.GetStudyRequest(name="mine")),
            ("Ask", api.AskRequest(study="mine")),
            ("Report", api.ReportRequest(study="mine", trial_number=trial, step=0, value=1.0)),
            ("Tell", api.TellRequest(study="mine", trial_number=trial, state=2, values=[1.0])),
            ("DeleteStudy", api.DeleteStudyRequest(name="mine")),
            (
                "CreateStudy",
                api.CreateStudyRequest(name="mine", directions=[1], load_if_exists=True),
            ),
        ]:
            with pytest.raises(hpo.HpoError) as info:
                as_(bob).call(method, request)
            assert info.value.code == "PERMISSION_DENIED", method
        assert db_state(coordinator) == before
        assert [
            s.name for s in as_(bob).call("ListStudies", api.ListStudiesRequest()).studies
        ] == []
        assert [
            s.name for s in as_(carol).call("ListStudies", api.ListStudiesRequest()).studies
        ] == ["mine"]
        as_(carol).call(
            "Tell", api.TellRequest(study="mine", trial_number=trial, state=2, values=[2.0])
        )
        with pytest.raises(hpo.HpoError) as info:  # the registry follows the study's owner
            hpo.registry.register("m", "mine", address=address)
        assert info.value.code in ("UNAUTHENTICATED", "PERMISSION_DENIED")


def test_per_principal_rate_limit(sqlite_url, tmp_path) -> None:
    tokens = tmp_path / "tokens"
    alice, bob = add_token(tokens, "alice"), add_token(tokens, "bob")
    security = ServerSecurity(token_file=str(tokens), rate_limit=2.0)  # bursts of 10
    with Coordinator(sqlite_url, port=0, security=security) as coordinator:
        fast = connect(coordinator.address, ClientSecurity(token=alice))
        codes = []
        for _ in range(15):
            try:
                fast.call("ListStudies", api.ListStudiesRequest())
                codes.append("OK")
            except hpo.HpoError as e:
                codes.append(e.code)
        assert codes[:10] == ["OK"] * 10 and "RESOURCE_EXHAUSTED" in codes[10:]
        # another principal has its own bucket
        connect(coordinator.address, ClientSecurity(token=bob)).call(
            "ListStudies", api.ListStudiesRequest()
        )


def test_models_belong_to_their_first_registrant(sqlite_url, tmp_path) -> None:
    import pickle

    from hpo.client._lineage import log_artifact
    from hpo.v1 import registry_pb2 as reg

    tokens = tmp_path / "tokens"
    alice, bob = add_token(tokens, "alice"), add_token(tokens, "bob")
    security = ServerSecurity(token_file=str(tokens))
    with Coordinator(sqlite_url, port=0, security=security) as coordinator:
        address = coordinator.address

        def call(token: str, method: str, request):
            return connect(address, ClientSecurity(token=token)).call(
                method, request, service="registry"
            )

        for who, token in (("alice", alice), ("bob", bob)):
            c = connect(address, ClientSecurity(token=token))
            c.call("CreateStudy", api.CreateStudyRequest(name=f"{who}-study", directions=[1]))
            number = c.call("Ask", api.AskRequest(study=f"{who}-study")).trial.number
            model = tmp_path / f"{who}.pkl"
            model.write_bytes(pickle.dumps(who))
            log_artifact(c, f"{who}-study", number, model, "model.pkl")
            c.call(
                "Tell",
                api.TellRequest(study=f"{who}-study", trial_number=number, state=2, values=[1.0]),
            )
        call(alice, "RegisterModel", reg.RegisterModelRequest(name="m", study="alice-study"))
        for method, request in [
            ("RegisterModel", reg.RegisterModelRequest(name="m", study="bob-study")),
            ("SetAlias", reg.SetAliasRequest(name="m", version=1, alias="champion")),
            ("GetModelVersion", reg.GetModelVersionRequest(name="m", version=1)),
        ]:
            with pytest.raises(hpo.HpoError) as info:
                call(bob, method, request)
            assert info.value.code == "PERMISSION_DENIED", method
        assert call(bob, "ListModels", reg.ListModelsRequest()).models == []
        assert [m.name for m in call(alice, "ListModels", reg.ListModelsRequest()).models] == ["m"]
