"""The swarm test bed against tests/swarm/contract.yaml: it holds, and each mutation is found.

Each mutation test changes the running swarm the way an operator would (docker service update, a
recreated overlay, a node's firewall), checks that `netcontract check --node ...` exits with the right
code and names the right result, and restores the swarm (the `restore` fixture waits until the
contract holds again).
"""

from __future__ import annotations

from pathlib import Path

import yaml
from swarm_bed import CONTRACT, HELPER_IMAGE, STACK, Bed, Checked

from netcontract.swarm.nodes import VIP_NOTE


def test_the_stack_holds_with_every_task_probed_on_its_node(bed: Bed, tmp_path: Path) -> None:
    bed.converge()
    got = bed.check(tmp=tmp_path)
    assert got.code == 0, got.stdout[-3000:] + got.stderr
    results = got.report["results"]
    assert all(r["verdict"] == "PASS" for r in results)
    probes = [r for r in results if r["kind"] in ("dns", "reach", "isolation")]
    assert probes and {r["executor"] for r in probes} == {"exec"}
    # every running task of every service was a source: its task name is in the ids of its probes
    sources = {r["id"].split("[", 1)[1].split("]", 1)[0] for r in probes if "[" in r["id"]}
    tasks = {name for svc in ("proxy", "web", "api", "db") for name in bed.task_nodes(svc)}
    assert len(tasks) == 11
    # global tasks are named <service>@<node> in the report; `docker service ps` calls them <service>.<node id>
    for task in tasks:
        if not task.startswith(f"{STACK}_proxy."):
            assert task in sources, task
    assert {s for s in sources if s.startswith(f"{STACK}_proxy@")} == {
        f"{STACK}_proxy@{n}" for n in bed.nodes
    }
    # cross-node paths were probed both ways: web reaches api's three tasks, one per node
    assert got.by_id()["reach:web[nctest_web.1]->api:8000@app"]["verdict"] == "PASS"
    assert got.by_id()["dns:api[nctest_api.1]->tasks.db"]["verdict"] == "PASS"
    assert any("nodes read: " + ", ".join(sorted(bed.nodes)) in n for n in got.report["notes"])


def test_a_service_added_to_a_forbidden_overlay_fails(
    bed: Bed, restore: list[list[str]], tmp_path: Path
) -> None:
    bed.converge()
    restore.append(["service", "rollback", "--quiet", f"{STACK}_db"])
    bed.docker(
        "service",
        "update",
        "--quiet",
        "--no-resolve-image",
        "--network-add",
        f"{STACK}_edge",
        f"{STACK}_db",
    )
    bed.converge()
    got = bed.check(tmp=tmp_path)
    assert got.code == 1, got.stdout[-3000:]
    failed = got.verdicts("FAIL")
    assert "networks:db" in failed
    assert (
        "is attached to nctest_edge (tier edge), which the contract does not give it"
        in failed["networks:db"]["reason"]
    )
    assert (
        "egress:db" in failed
        and "nctest_edge, which is not internal" in failed["egress:db"]["reason"]
    )
    # and the probes see it: proxy (edge) now reaches db over edge, from every node
    leaks = [k for k in failed if k.startswith("isolation:proxy[") and k.endswith("->db:5432@edge")]
    assert len(leaks) == 3, sorted(failed)


def test_an_alias_missing_from_the_service_fails(
    bed: Bed, restore: list[list[str]], tmp_path: Path
) -> None:
    bed.converge()
    restore.append(["service", "rollback", "--quiet", f"{STACK}_db"])
    bed.docker(
        "service",
        "update",
        "--quiet",
        "--no-resolve-image",
        "--network-rm",
        f"{STACK}_data",
        "--network-add",
        f"name={STACK}_data,alias=database,alias=db",
        f"{STACK}_db",
    )
    bed.converge()
    got = bed.check(tmp=tmp_path)
    assert got.code == 1, got.stdout[-3000:]
    failed = got.verdicts("FAIL")
    alias = failed["alias:db@data:db.nctest.internal"]
    assert "does not have alias db.nctest.internal on nctest_data" in alias["reason"]
    dns = [k for k in failed if k.startswith("dns:api[") and k.endswith("->db.nctest.internal")]
    assert len(dns) == 3, sorted(failed)  # every api task, each on its node, cannot resolve it
    assert "alias:db@data:database" not in failed


def test_an_overlay_that_lost_internal_fails(
    bed: Bed, restore: list[list[str]], tmp_path: Path
) -> None:
    """Overlays cannot change in place: detach vault, recreate nctest_vault without --internal, reattach."""
    bed.converge()
    labels = ["--label", f"com.docker.stack.namespace={STACK}", "--label", "org.netcontract.test=1"]
    net, svc = f"{STACK}_vault", f"{STACK}_vault"
    # restore (run last first): detach, recreate as stack.yaml has it, reattach with the alias `stack deploy`
    # gives every service (its short name: without it `vault` does not resolve, and netcontract says so)
    restore.append(
        [
            "service",
            "update",
            "--quiet",
            "--no-resolve-image",
            "--network-add",
            f"name={net},alias=vault",
            svc,
        ]
    )
    restore.append(
        ["network", "create", "-d", "overlay", "--internal", "--opt", "encrypted", *labels, net]
    )
    restore.append(["network", "rm", net])
    restore.append(["service", "update", "--quiet", "--no-resolve-image", "--network-rm", net, svc])
    bed.docker("service", "update", "--quiet", "--no-resolve-image", "--network-rm", net, svc)
    bed.docker("network", "rm", net)
    bed.docker("network", "create", "-d", "overlay", "--opt", "encrypted", *labels, net)
    bed.docker("service", "update", "--quiet", "--no-resolve-image", "--network-add", net, svc)
    bed.converge()
    got = bed.check(tmp=tmp_path)
    assert got.code == 1, got.stdout[-3000:]
    failed = got.verdicts("FAIL")
    assert "nctest_vault is not internal" in failed["network:vault"]["reason"]
    assert "which is not internal: a way out" in failed["egress:vault"]["reason"]


def test_a_replica_that_cannot_reach_its_peer_on_another_node_fails(
    bed: Bed, restore: list[list[str]], tmp_path: Path
) -> None:
    """Node 3 drops VXLAN (udp 4789): its tasks are cut off from the other nodes' tasks on every overlay."""
    bed.converge()
    node = sorted(bed.nodes)[2]
    rule = [
        "INPUT",
        "-p",
        "udp",
        "--dport",
        "4789",
        "-j",
        "DROP",
        "-m",
        "comment",
        "--comment",
        "netcontract-test",
    ]
    restore.append(["node", node, "iptables", "-D", *rule])
    bed.node_exec(node, "iptables", "-I", *rule)
    api_there = [t for t, n in bed.task_nodes("api").items() if n == node]
    web_elsewhere = sorted(t for t, n in bed.task_nodes("web").items() if n != node)
    assert api_there and web_elsewhere
    got = bed.check(tmp=tmp_path)
    assert got.code == 1, got.stdout[-3000:]
    failed = got.verdicts("FAIL")
    for web in web_elsewhere:
        r = failed[f"reach:web[{web}]->api:8000@app"]
        assert "web cannot reach api on nctest_app (timeout)" in r["reason"], r
    assert not got.verdicts("ERROR"), sorted(got.verdicts("ERROR"))


def test_an_unreachable_node_is_exit_3_naming_it_and_nothing_about_it_passes(
    bed: Bed, restore: list[list[str]], tmp_path: Path
) -> None:
    bed.converge()
    node = sorted(bed.nodes)[2]
    rule = [
        "INPUT",
        "-p",
        "tcp",
        "--dport",
        "2375",
        "-j",
        "REJECT",
        "--reject-with",
        "tcp-reset",
        "-m",
        "comment",
        "--comment",
        "netcontract-test",
    ]
    restore.append(["node", node, "iptables", "-D", *rule])
    bed.node_exec(node, "iptables", "-I", *rule)
    got = bed.check(tmp=tmp_path)
    assert got.code == 3, got.stdout[-3000:] + got.stderr
    assert any(
        f"node {node} not read" in n and "connection refused" in n for n in got.report["notes"]
    )
    results = got.report["results"]
    assert not [r for r in results if r["verdict"] == "FAIL"]
    on_node = {
        t.split(".")[0].removeprefix(f"{STACK}_")
        for svc in ("proxy", "web", "api", "db", "vault")
        for t, n in bed.task_nodes(svc).items()
        if n == node
    }
    assert "proxy" in on_node
    structural = ("running", "networks", "alias", "exposure", "egress")
    for r in results:
        if r["verdict"] == "PASS":
            about = {
                r["src"],
                r["dst"],
                r["subject"].split("@")[0] if r["kind"] in structural else "",
            }
            assert not about & on_node, r
            assert r["kind"] not in ("foreign", "alias-unique"), (
                r
            )  # they need every node's containers
    assert (
        len([r for r in results if r["verdict"] == "PASS"]) > 0
    )  # what does not need the node is still judged
    running = got.by_id()["running:proxy"]
    assert running["verdict"] == "ERROR" and f"node {node} was not read" in running["reason"]


def test_a_vip_service_resolves_to_its_virtual_ip_which_is_probed_on_its_port(
    bed: Bed, restore: list[list[str]], tmp_path: Path
) -> None:
    """The stack is dnsrr throughout; this adds a vip-mode service (2 tasks on edge, alias `vip`, as stack deploy
    would name it) and a contract that declares it. Its name must resolve to the VIP, tasks.vip to the tasks,
    and the VIP must connect on port 8081, which it does only where the kernel has IPVS: on this machine's
    kernel (no ip_vs) it is a FAIL that says so (docs/swarm.md), never a PASS."""
    bed.converge()
    restore.append(["service", "rm", f"{STACK}_vip"])
    bed.docker(
        "service",
        "create",
        "--quiet",
        "--detach=false",
        "--no-resolve-image",
        "--name",
        f"{STACK}_vip",
        "--label",
        "org.netcontract.test=1",
        "--label",
        f"com.docker.stack.namespace={STACK}",
        "--container-label",
        "org.netcontract.test=1",
        "--container-label",
        f"com.docker.stack.namespace={STACK}",
        "--network",
        f"name={STACK}_edge,alias=vip",
        "--replicas",
        "2",
        "--dns",
        "127.0.0.1",
        "netcontract-test/busybox:local",
        "httpd",
        "-f",
        "-p",
        "8081",
        "-h",
        "/www",
    )
    bed.converge()
    contract = yaml.safe_load(CONTRACT.read_text())
    contract["services"]["vip"] = {"tiers": ["edge"], "ports": [8081]}
    path = tmp_path / "contract-vip.yaml"
    path.write_text(yaml.safe_dump(contract))
    vip_addr = (
        bed.docker(
            "service",
            "inspect",
            f"{STACK}_vip",
            "-f",
            "{{range .Endpoint.VirtualIPs}}{{.Addr}}{{end}}",
        )
        .stdout.strip()
        .split("/")[0]
    )
    _vip_holds(bed.check(tmp=tmp_path, contract=path), vip_addr)
    # and through the helper on every node (its image copied in by up.sh; without it the helper's own
    # tests in test_swarm_helper_live.py skip, which ci.sh fails): the same verdicts, the netns prober's
    if bed.helper_image_missing() is None:
        got = bed.check(
            "--executor", "helper", "--helper-image", HELPER_IMAGE, tmp=tmp_path, contract=path
        )
        _vip_holds(got, vip_addr)
        vips = [r for r in got.report["results"] if r["id"].endswith("/vip")]
        assert vips and {r["executor"] for r in vips} == {"helper"}
        assert bed.helpers_left() == {}


def _vip_holds(got: Checked, vip_addr: str) -> None:
    """The vip service's verdicts: its name resolves to the VIP, tasks.vip to the tasks, the tasks connect, the
    VIP connects where the kernel has IPVS and FAILs saying why where not; nothing else fails."""
    results = got.by_id()
    ipvs = Path("/proc/net/ip_vs").exists()  # the nodes share this machine's kernel
    sources = [
        k.split("->")[0].removeprefix("dns:")
        for k in results
        if k.startswith("dns:web[") and k.endswith("->vip")
    ]
    sources += [
        k.split("->")[0].removeprefix("dns:")
        for k in results
        if k.startswith("dns:proxy[") and k.endswith("->vip")
    ]
    assert len(sources) == 6, sorted(results)  # 3 web + 3 proxy tasks share edge with vip
    for src in sources:
        name = results[f"dns:{src}->vip"]
        assert name["verdict"] == "PASS" and name["actual"] == vip_addr, name
        tasks = results[f"dns:{src}->tasks.vip"]
        assert tasks["verdict"] == "PASS" and vip_addr not in tasks["actual"], tasks
        assert results[f"reach:{src}->vip:8081@edge"]["verdict"] == "PASS"
        vip = results[f"reach:{src}->vip:8081@edge/vip"]
        if ipvs:
            assert vip["verdict"] == "PASS", vip
        else:
            assert vip["verdict"] == "FAIL" and vip["reason"].endswith(VIP_NOTE), vip
    failed = got.verdicts("FAIL")
    assert set(failed) == (set() if ipvs else {f"reach:{s}->vip:8081@edge/vip" for s in sources})
    assert got.code == (0 if ipvs else 1)
    assert any("vip mode: vip" in n for n in got.report["notes"])


def test_replicas_on_an_encrypted_overlay_reach_each_other_only_where_ipsec_works(
    bed: Bed, restore: list[list[str]], tmp_path: Path
) -> None:
    """vault scaled to 2 (at most 1 per node: two nodes) on the encrypted internal overlay: each task must reach
    its sibling. Where a node's kernel cannot install the IPsec SAs (this machine: no ESP, dockerd logs
    `Failed Adding rSA ... function not implemented` while the rule dropping plain VXLAN for that network is
    in place), nothing crosses the nodes and both tasks FAIL their sibling path; elsewhere they connect."""
    bed.converge()
    since = bed.docker("info", "-f", "{{.SystemTime}}").stdout.strip()
    restore.append(["service", "scale", "--detach=false", f"{STACK}_vault=1"])
    bed.docker("service", "scale", "--detach=false", f"{STACK}_vault=2")
    bed.converge()
    nodes = set(bed.task_nodes("vault").values())
    assert len(nodes) == 2
    got = bed.check(tmp=tmp_path)
    no_ipsec = any(
        "Failed Adding rSA" in bed.docker("logs", "--since", since, n, host="").stderr
        for n in nodes
    )
    sibling = {
        k: r
        for k, r in got.by_id().items()
        if k.startswith("reach:vault[") and k.endswith("->vault:8200@vault")
    }
    assert len(sibling) == 2, sorted(got.by_id())
    if no_ipsec:
        assert got.code == 1, got.stdout[-3000:]
        assert set(got.verdicts("FAIL")) == set(sibling)
        for r in sibling.values():
            assert r["reason"] == "vault cannot reach vault on nctest_vault (timeout)", r
    else:
        assert got.code == 0, got.stdout[-3000:]
    assert got.by_id()["network:vault"]["verdict"] == "PASS"  # encrypted, internal: as declared


def test_nodes_reached_through_docker_contexts(bed: Bed, tmp_path: Path) -> None:
    """`--node NAME=context:CTX`: contexts made with the docker CLI in a DOCKER_CONFIG of the test's own."""
    config = tmp_path / "docker-config"
    config.mkdir()
    nodes = []
    for name, url in sorted(bed.nodes.items()):
        bed.docker(
            "--config",
            str(config),
            "context",
            "create",
            f"ctx-{name}",
            "--docker",
            f"host={url}",
            host="",
        )
        nodes += ["--node", f"{name}=context:ctx-{name}"]
    bed.converge()
    got = bed.check(tmp=tmp_path, nodes=nodes, env={"DOCKER_CONFIG": str(config)})
    assert got.code == 0, got.stdout[-3000:] + got.stderr
    assert any("nodes read: " + ", ".join(sorted(bed.nodes)) in n for n in got.report["notes"])
    n1, n2, n3 = sorted(bed.nodes)
    swapped = [
        "--node",
        f"{n1}=context:ctx-{n1}",
        "--node",
        f"{n2}=context:ctx-{n3}",
        "--node",
        f"{n3}=context:ctx-{n2}",
    ]
    got = bed.check(tmp=tmp_path, nodes=swapped, env={"DOCKER_CONFIG": str(config)})
    assert got.code == 2, got.stderr
    assert got.stderr.startswith(
        f"netcontract: --node {n2}=context:ctx-{n3}: that engine is swarm node {n3}, not {n2}"
    )
