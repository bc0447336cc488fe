// The trail page: asks seam's JSON API and draws what it answers.
//
// Every value shown comes from decision records, and records carry what
// callers sent (paths, hosts, ids). They are put on the page only as text
// (textContent, SVG text nodes, attribute values through setAttribute),
// never parsed as markup.

"use strict";

(function () {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const NODE_W = 470;
  const NODE_H = 150;
  const GAP_X = 40;
  const GAP_Y = 84;
  const PAD = 16;
  const LINE = 17;
  const CHARS = 62;
  const DENIALS_PER_REASON = 5;

  let graphs = 0;

  // --- building elements, as text only ---

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      node.setAttribute(name, value);
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function svg(tag, attrs, text) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      node.setAttribute(name, String(value));
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function cut(text, chars) {
    const value = String(text);
    const room = chars || CHARS;
    return value.length > room ? value.slice(0, room - 1) + "\u2026" : value;
  }

  function short(id) {
    return id ? cut(id, 13) : "";
  }

  function when(time) {
    return time ? time.replace("T", " ").replace(/\.\d+Z$/, "Z") : "(no time)";
  }

  function denied(hop) {
    return hop.decision !== "allow";
  }

  async function getJson(path) {
    try {
      const response = await fetch(path, { headers: { Accept: "application/json" } });
      const body = await response.json();
      return { ok: response.ok, body: body };
    } catch (failure) {
      return { ok: false, body: { error: "the trail page cannot be reached: " + failure } };
    }
  }

  // --- the transaction graph ---

  // The forest to draw: each root, and above each orphan a stand-in for
  // the parent decision the trail does not hold.
  function forest(txn) {
    const trees = txn.roots.map((root) => ({ hop: root, children: root.children }));
    for (const orphan of txn.orphans) {
      trees.push({
        missing: orphan.missing_parent,
        children: [orphan.node],
        orphan: true,
      });
    }
    return trees;
  }

  function kids(item) {
    return item.missing !== undefined ? item.children : item.hop.children;
  }

  function measure(item) {
    const children = kids(item).map((child) => measure({ hop: child, children: child.children }));
    item.laid = children;
    item.leaves = Math.max(1, children.reduce((sum, child) => sum + child.leaves, 0));
    return item;
  }

  function place(item, left, depth) {
    item.depth = depth;
    item.x = left + (item.leaves * (NODE_W + GAP_X) - GAP_X) / 2 - NODE_W / 2;
    item.y = PAD + depth * (NODE_H + GAP_Y);
    let next = left;
    for (const child of item.laid) {
      place(child, next, depth + 1);
      next += child.leaves * (NODE_W + GAP_X);
    }
  }

  function deepest(item) {
    return item.laid.reduce((max, child) => Math.max(max, deepest(child)), item.depth);
  }

  function drawTransaction(txn, matched) {
    const section = el("section", { class: "txn" });
    const title = txn.txn ? "Transaction " + txn.txn : "Decision outside any transaction";
    section.append(el("h2", {}, title));
    const hopWord = txn.hops === 1 ? "hop" : "hops";
    const meta = txn.hops + " " + hopWord + ", " + txn.denials + " denied" +
      (txn.orphans.length ? ", " + txn.orphans.length + " whose parent is not in the trail" : "") +
      " \u00b7 found by " + matched.replace("_", " ");
    section.append(el("p", { class: "meta" }, meta));

    const trees = forest(txn).map(measure);
    let left = PAD;
    let depth = 0;
    for (const tree of trees) {
      place(tree, left, 0);
      left += tree.leaves * (NODE_W + GAP_X);
      depth = Math.max(depth, deepest(tree));
    }
    const width = left - GAP_X + PAD;
    const height = PAD * 2 + (depth + 1) * NODE_H + depth * GAP_Y;

    graphs += 1;
    const arrow = "arrow-" + graphs;
    const picture = svg("svg", {
      width: width,
      height: height,
      viewBox: "0 0 " + width + " " + height,
      role: "img",
      "aria-label": title,
      class: "txn-graph",
    });
    const defs = svg("defs");
    const marker = svg("marker", {
      id: arrow,
      viewBox: "0 0 10 10",
      refX: 9,
      refY: 5,
      markerWidth: 7,
      markerHeight: 7,
      orient: "auto-start-reverse",
    });
    marker.append(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow" }));
    defs.append(marker);
    picture.append(defs);

    const edges = svg("g", { class: "edges" });
    const nodes = svg("g", { class: "nodes" });
    for (const tree of trees) {
      draw(tree, edges, nodes, arrow);
    }
    picture.append(edges, nodes);

    const frame = el("div", { class: "graph" });
    frame.append(picture);
    section.append(frame, hopTable(txn));
    return section;
  }

  function draw(item, edges, nodes, arrow) {
    nodes.append(item.missing !== undefined ? missingNode(item) : hopNode(item));
    for (const child of item.laid) {
      edges.append(edge(item, child, arrow));
      draw(child, edges, nodes, arrow);
    }
  }

  function edge(parent, child, arrow) {
    const x1 = parent.x + NODE_W / 2;
    const y1 = parent.y + NODE_H;
    const x2 = child.x + NODE_W / 2;
    const y2 = child.y;
    const mid = y1 + GAP_Y / 2;
    const inbound = child.hop.inbound || {};
    const group = svg("g", {
      class: parent.missing !== undefined ? "edge-group missing" : "edge-group",
      "data-jti": inbound.jti || "",
    });
    group.append(svg("title", {}, "txn-token jti " + (inbound.jti || "(none)") +
      " minted by decision " + (inbound.parent_decision_id || "(unknown)")));
    group.append(svg("path", {
      d: "M " + x1 + " " + y1 + " V " + mid + " H " + x2 + " V " + (y2 - 2),
      class: parent.missing !== undefined ? "edge missing-edge" : "edge",
      "marker-end": "url(#" + arrow + ")",
    }));
    group.append(svg("text", { x: x2 + 10, y: mid - 6, class: "edge-label" },
      "txn-token jti " + short(inbound.jti)));
    return group;
  }

  function hopNode(item) {
    const hop = item.hop;
    const deny = denied(hop);
    const orphan = item.orphanChild === true;
    const group = svg("g", {
      class: "node " + (deny ? "deny" : "allow") + (orphan ? " orphan" : ""),
      transform: "translate(" + item.x + "," + item.y + ")",
      "data-caller": hop.caller,
      "data-decision": hop.decision,
      "data-decision-id": hop.decision_id,
    });
    group.append(svg("title", {}, describe(hop)));
    group.append(svg("rect", { class: "box", width: NODE_W, height: NODE_H, rx: 8, ry: 8 }));

    const status = hop.http_status ? " (" + hop.http_status + ")" : "";
    const mark = deny ? "\u2717 DENY " + hop.reason + status : "\u2713 ALLOW " + hop.reason;
    const policies = hop.determining_policies.length
      ? hop.determining_policies.join(", ")
      : "no determining policy";
    const minted = hop.minted
      ? "minted " + short(hop.minted.jti) + " \u2192 " + hop.minted.holder.replace(/^spiffe:\/\/[^/]*/, "") +
        " exp " + when(hop.minted.expires).slice(11)
      : "minted no token";
    const lines = [
      [mark, "mark"],
      [hop.caller || "(caller not verified)", "caller"],
      [hop.method + " " + hop.host + hop.path, "request"],
      ["sensitivity " + (hop.sensitivity || "-") + " \u00b7 intent " + (hop.intent || "-"), "context"],
      ["by " + policies, "policies"],
      ["policy set " + (hop.policy_set_version || "-"), "version"],
      [minted, "minted"],
      [when(hop.time) + " \u00b7 " + short(hop.decision_id), "time"],
    ];
    lines.forEach(([text, kind], i) => {
      group.append(svg("text", { x: 12, y: 20 + i * LINE, class: kind }, cut(text)));
    });
    return group;
  }

  function missingNode(item) {
    const group = svg("g", {
      class: "node missing",
      transform: "translate(" + item.x + "," + item.y + ")",
      "data-missing-parent": item.missing,
    });
    group.append(svg("title", {}, "decision " + item.missing + " minted the token the hop below presented; its record is not in the files read"));
    group.append(svg("rect", { class: "box", width: NODE_W, height: NODE_H, rx: 8, ry: 8 }));
    const lines = [
      ["? PARENT NOT IN THE TRAIL", "mark"],
      ["decision " + (item.missing || "(not named)"), "missing"],
      ["the hop below is an orphan: its token's minting", "hint"],
      ["record was rotated away, lost, or is in files", "hint"],
      ["that were not read", "hint"],
    ];
    lines.forEach(([text, kind], i) => {
      group.append(svg("text", { x: 12, y: 20 + i * LINE, class: kind }, cut(text)));
    });
    for (const child of item.laid) {
      child.orphanChild = true;
    }
    return group;
  }

  function describe(hop) {
    const parts = [
      (denied(hop) ? "DENY " : "ALLOW ") + hop.reason + (hop.detail ? ": " + hop.detail : ""),
      "caller " + (hop.caller || "(not verified)"),
      hop.method + " " + hop.host + hop.path,
      "decision " + hop.decision_id + " at " + hop.time,
      "request id " + hop.request_id,
    ];
    if (hop.minted) {
      parts.push("minted jti " + hop.minted.jti + " for " + hop.minted.holder + " until " + hop.minted.expires);
    }
    if (hop.inbound) {
      parts.push("presented jti " + hop.inbound.jti + " from decision " + hop.inbound.parent_decision_id);
    }
    return parts.join("\n");
  }

  // Every hop in full, as a table: the graph's text alternative.
  function hopTable(txn) {
    const table = el("table", { class: "hops" });
    const head = el("tr");
    for (const name of ["decision", "time", "caller", "request", "sensitivity / intent",
      "policies (set)", "presented jti", "minted jti (holder, expiry)", "decision id"]) {
      head.append(el("th", { scope: "col" }, name));
    }
    table.append(el("thead"));
    table.firstChild.append(head);
    const body = el("tbody");
    const visit = (node) => {
      body.append(hopRow(node));
      node.children.forEach(visit);
    };
    txn.roots.forEach(visit);
    txn.orphans.forEach((orphan) => visit(orphan.node));
    table.append(body);
    return table;
  }

  function hopRow(hop) {
    const deny = denied(hop);
    const row = el("tr", { class: deny ? "deny" : "allow" });
    const cells = [
      (deny ? "\u2717 DENY " : "\u2713 ALLOW ") + hop.reason + (hop.detail ? ": " + hop.detail : ""),
      when(hop.time),
      hop.caller || "(not verified)",
      hop.method + " " + hop.host + hop.path,
      (hop.sensitivity || "-") + " / " + (hop.intent || "-"),
      (hop.determining_policies.join(", ") || "-") + " (" + (hop.policy_set_version || "-") + ")",
      hop.inbound ? hop.inbound.jti : "-",
      hop.minted ? hop.minted.jti + " (" + hop.minted.holder + ", " + hop.minted.expires + ")" : "-",
      hop.decision_id,
    ];
    for (const text of cells) {
      row.append(el("td", {}, text));
    }
    return row;
  }

  // --- views ---

  async function showId(id) {
    const result = document.getElementById("result");
    result.replaceChildren(el("p", { class: "hint" }, "Looking up " + id + "\u2026"));
    const answer = await getJson("/api/find?id=" + encodeURIComponent(id));
    if (!answer.ok) {
      result.replaceChildren(el("p", { class: "error" }, answer.body.error || "the lookup failed"));
      return;
    }
    const found = answer.body;
    const parts = found.transactions.map((txn) => drawTransaction(txn, found.matched));
    if (found.more) {
      parts.push(el("p", { class: "hint" }, "More transactions match; the most recent ones are shown."));
    }
    result.replaceChildren(...parts);
    result.setAttribute("data-ready", "true");
  }

  async function showDenials() {
    const box = document.getElementById("denial-groups");
    const answer = await getJson("/api/denials?by=reason&limit=" + DENIALS_PER_REASON);
    if (!answer.ok) {
      box.replaceChildren(el("p", { class: "error" }, answer.body.error || "denials cannot be read"));
      return;
    }
    const groups = answer.body.groups || [];
    if (groups.length === 0) {
      box.replaceChildren(el("p", { class: "hint" }, "No denials in the trail."));
      return;
    }
    const parts = [];
    for (const group of groups) {
      const heading = el("h3", { class: "reason" }, "\u2717 " + group.key + " ");
      heading.append(el("span", { class: "count" }, "\u00d7" + group.count));
      const list = el("ul");
      for (const hop of group.recent.slice().reverse()) {
        const item = el("li");
        const link = el("a", { href: "#/txn/" + encodeURIComponent(hop.decision_id) },
          when(hop.time).slice(11) + " " + (hop.caller || "(not verified)").replace(/^spiffe:\/\//, "") +
          " \u2192 " + hop.method + " " + hop.host + hop.path);
        item.append(link);
        list.append(item);
      }
      parts.push(heading, list);
    }
    box.replaceChildren(...parts);
  }

  async function showSummary() {
    const summary = document.getElementById("summary");
    const answer = await getJson("/api/report");
    if (!answer.ok) {
      summary.replaceChildren(el("span", { class: "error" }, answer.body.error || "the records cannot be read"));
      return;
    }
    const read = answer.body.read;
    const issues = read.issues.length + read.issues_not_listed;
    const text = answer.body.records + " decision records from " + read.files.length +
      (read.files.length === 1 ? " file" : " files") +
      (answer.body.trail_end ? ", the latest at " + when(answer.body.trail_end) : "") +
      (issues ? " \u00b7 " + issues + " reading issues" : "");
    const parts = [text];
    if (read.issues.length) {
      const details = el("details");
      details.append(el("summary", {}, "what reading found"));
      const list = el("ul");
      for (const issue of read.issues.slice(0, 50)) {
        list.append(el("li", {}, issue.file + ":" + issue.line + " " + JSON.stringify(issue)));
      }
      details.append(list);
      parts.push(details);
    }
    summary.replaceChildren(...parts);
  }

  function route() {
    const match = /^#\/txn\/(.+)$/.exec(window.location.hash);
    if (!match) {
      return;
    }
    let id = match[1];
    try {
      id = decodeURIComponent(id);
    } catch (ignored) {
      // Not percent-encoded after all: search for it as written.
    }
    document.getElementById("id").value = id;
    showId(id);
  }

  function refresh() {
    showSummary();
    showDenials();
    route();
  }

  document.getElementById("search").addEventListener("submit", (event) => {
    event.preventDefault();
    const id = document.getElementById("id").value.trim();
    if (id) {
      window.location.hash = "#/txn/" + encodeURIComponent(id);
    }
  });
  document.getElementById("reload").addEventListener("click", refresh);
  window.addEventListener("hashchange", route);
  refresh();
})();
