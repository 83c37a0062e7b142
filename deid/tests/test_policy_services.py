"""Policy services: versions are immutable history; audit events carry no personal data."""

import pytest

from audit.models import AuditEvent
from deid import services
from deid.engine import Operator, PolicyConfig
from deid.models import DeidPolicy


@pytest.mark.django_db
def test_it_has_a_default_policy_from_the_migrations():
    policy = DeidPolicy.objects.get(name="default")
    assert policy.current.label == "2024-01-01"
    assert len(policy.secret) == 64
    assert policy.current.policy_config == PolicyConfig.default()


def test_it_creates_and_updates_policies_with_versions_and_audit(staff):
    config = PolicyConfig(entities={"URL": Operator.MASK})
    policy = services.create_policy(name="p", config=config, actor=staff)
    services.update_policy(policy=policy, config=PolicyConfig(entities={"URL": Operator.KEEP}), actor=staff)
    services.update_policy(policy=policy, config=PolicyConfig(entities={"URL": Operator.KEEP}), actor=staff)  # no-op
    policy.refresh_from_db()
    assert list(policy.versions.values_list("number", flat=True)) == [2, 1]
    assert policy.current.number == 2
    assert policy.versions.get(number=1).config["entities"] == {"URL": "mask"}
    actions = list(AuditEvent.objects.filter(object_type="deid.deidpolicy").values_list("action", flat=True))
    assert sorted(actions) == ["create", "update"]


def test_it_keeps_pseudonyms_stable_across_versions(staff):
    policy = DeidPolicy.objects.get(name="default")
    before = services.deidentify_texts(policy=policy, texts=["13812345678"], actor=staff).deidentified
    lower_bar = PolicyConfig(entities=PolicyConfig.default().entities, min_score=0.4)
    services.update_policy(policy=policy, config=lower_bar, actor=staff)
    policy.refresh_from_db()
    after = services.deidentify_texts(policy=policy, texts=["13812345678"], actor=staff)
    assert after.deidentified == before and after.policy_version != "2024-01-01"


def test_it_refuses_to_delete_the_default_policy(staff):
    with pytest.raises(services.PolicyInUse):
        services.delete_policy(policy=DeidPolicy.objects.get(name="default"), actor=staff)
