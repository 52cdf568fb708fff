import json


def test_advisor_creates_customer_and_opens_job_card(advisor_client, location):
    r = advisor_client.post("/api/v1/customers", json.dumps({"first_name": "Ana", "last_name": "Diaz", "phone": "(312) 555-0142"}), content_type="application/json")
    assert r.status_code == 201, r.content
    cid = r.json()["id"]
    assert r.json()["phone"] == "+13125550142"
    r = advisor_client.post(f"/api/v1/customers/{cid}/vehicles", json.dumps({"make": "Ford", "model": "F-150", "year": 2018, "vin": "1FTEW1EP5JFA12345"}), content_type="application/json")
    assert r.status_code in (201, 422), r.content
    r = advisor_client.post(f"/api/v1/customers/{cid}/vehicles", json.dumps({"make": "Ford", "model": "F-150", "year": 2018}), content_type="application/json")
    vid = r.json()["id"]
    r = advisor_client.post("/api/v1/job-cards", json.dumps({"location_id": location.id, "customer_id": cid, "vehicle_id": vid, "odometer_in": 1000}), content_type="application/json")
    assert r.status_code == 201, r.content
    assert r.json()["number"] == 1
    r = advisor_client.get("/api/v1/customers?q=dia")
    assert r.json()["items"][0]["id"] == cid
