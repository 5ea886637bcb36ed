import httpx


def test_health_answers_ok(live_server):
    response = httpx.get(f"{live_server.url}/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
