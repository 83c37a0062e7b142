def test_it_serves_healthz_without_auth(client, db):
    response = client.get("/healthz")
    assert response.status_code in (200, 503)
    assert response.json()["checks"]["database"]["ok"] is True


def test_it_answers_unknown_api_paths_with_json(client, db):
    response = client.get("/no/such/thing")
    assert response.status_code == 404
    assert response.json()["detail"].startswith("No such path")
