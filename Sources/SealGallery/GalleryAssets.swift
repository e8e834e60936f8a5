/// The page, its script and its style, compiled into the binary: nothing is loaded from the
/// network, and the Content-Security-Policy allows nothing else (no inline script or style).
enum GalleryAssets {
    static func page(csrf: String) -> String {
        #"""
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <meta name="csrf-token" content="\#(csrf)">
        <title>sealdrop gallery</title>
        <link rel="stylesheet" href="/app.css">
        </head>
        <body>
        <header>
          <h1>sealdrop <span id="badge" class="badge" hidden></span></h1>
          <div id="status" role="status" aria-live="polite">connecting…</div>
        </header>
        <main>
          <section id="viewer" aria-labelledby="viewer-title" hidden>
            <h2 id="viewer-title" tabindex="-1"></h2>
            <p id="verdict" role="alert"></p>
            <img id="picture" alt="" hidden>
            <p class="actions"><a id="download" class="button" hidden>Download</a> <button id="close" type="button">Close</button></p>
          </section>
          <section aria-labelledby="post-title">
            <h2 id="post-title">Post images</h2>
            <div id="drop" class="drop" tabindex="0" aria-describedby="drop-help">
              <span id="drop-help">Drop images here, or</span>
              <label for="files" class="button">choose files</label>
              <input type="file" id="files" multiple accept="image/*">
            </div>
            <p><label for="name">Name (for a single image; default: its file name)</label> <input id="name" type="text" autocomplete="off"></p>
            <ul id="uploads" aria-live="polite"></ul>
          </section>
          <section aria-labelledby="feed-title">
            <h2 id="feed-title">Feed <button id="seen" type="button" hidden>Mark all seen</button></h2>
            <ul id="feed"></ul>
          </section>
        </main>
        <script src="/app.js"></script>
        </body>
        </html>
        """#
    }

    static let script = #"""
        "use strict";
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        const $ = (id) => document.getElementById(id);
        let items = [];
        let seen = Number(localStorage.getItem("sealdrop-seen") || "0");
        let newest = 0;
        let me = "";

        function text(tag, content, className) {
          const node = document.createElement(tag);
          node.textContent = content;
          if (className) node.className = className;
          return node;
        }
        function size(bytes) {
          if (bytes >= 1e6) return (bytes / 1e6).toFixed(1) + " MB";
          if (bytes >= 1e3) return (bytes / 1e3).toFixed(1) + " kB";
          return bytes + " B";
        }
        async function json(response) {
          const body = await response.json().catch(() => ({ error: response.statusText }));
          if (!response.ok && response.status !== 422) throw new Error(body.error || response.statusText);
          return body;
        }

        async function loadStatus() {
          try {
            const s = await json(await fetch("/api/status"));
            me = s.user;
            $("status").textContent = `${s.user} (${s.subject}, ${s.fingerprint}), certificate valid until ${s.not_after}; ` +
              `server ${s.server} (${s.transport}); feed ${s.feed}`;
            $("status").classList.toggle("problem", s.feed !== "connected");
          } catch (error) {
            $("status").textContent = "cannot reach sealdrop: " + error.message;
            $("status").classList.add("problem");
          }
        }

        function feedButton(name) {
          return Array.from(document.querySelectorAll("#feed .item")).find((button) => button.dataset.name === name);
        }

        function renderFeed() {
          const list = $("feed");
          // Whoever is on an item with the keyboard stays on it when the list is redrawn.
          const focused = list.contains(document.activeElement) ? document.activeElement.dataset.name : null;
          list.replaceChildren();
          for (const item of items) {
            const entry = document.createElement("li");
            if (item.seq > seen && item.owner !== me) entry.className = "unseen";
            const button = document.createElement("button");
            button.type = "button";
            button.className = "item";
            button.dataset.name = item.name;
            if (item.fetched) {
              const thumb = document.createElement("img");
              thumb.src = "/api/image?name=" + encodeURIComponent(item.name);
              thumb.alt = item.name;
              thumb.className = "thumb";
              button.append(thumb);
            }
            button.append(text("span", item.name, "name"));
            button.append(text("span", `${item.owner} · ${size(item.size)} · ${item.media_type} · ${item.time}`, "meta"));
            button.addEventListener("click", () => openImage(item.name));
            entry.append(button);
            list.append(entry);
          }
          const unseen = items.filter((item) => item.seq > seen && item.owner !== me).length;
          if (focused !== null) feedButton(focused)?.focus();
          $("badge").textContent = unseen ? `${unseen} new` : "";
          $("badge").hidden = unseen === 0;
          $("seen").hidden = unseen === 0;
        }

        async function loadFeed() {
          try {
            items = await json(await fetch("/api/feed"));
            newest = items.length ? items[0].seq : 0;
            // A first visit has seen what is there already; what comes later is new.
            if (localStorage.getItem("sealdrop-seen") === null) markSeen();
            renderFeed();
          } catch (error) {
            $("status").textContent = "the feed did not load: " + error.message;
            $("status").classList.add("problem");
          }
        }

        function markSeen() {
          seen = newest;
          localStorage.setItem("sealdrop-seen", String(seen));
          renderFeed();
        }

        // The item that opened the viewer, by name: where the keyboard goes back on closing.
        let opener = null;

        function closeViewer() {
          $("viewer").hidden = true;
          if (opener !== null) feedButton(opener)?.focus();
          opener = null;
        }

        async function openImage(name) {
          opener = name;
          const viewer = $("viewer");
          viewer.hidden = false;
          viewer.className = "busy";
          $("viewer-title").textContent = name;
          $("verdict").textContent = "fetching, verifying and decrypting…";
          $("picture").hidden = true;
          $("picture").removeAttribute("src");
          $("download").hidden = true;
          $("viewer-title").focus();
          const response = await fetch("/api/open", {
            method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf }, body: JSON.stringify({ name })
          });
          const result = await json(response).catch((error) => ({ error: error.message }));
          if (!response.ok || result.error) {
            viewer.className = "failed";
            $("verdict").textContent = "Not verified: " + (result.error || response.statusText) + ". Nothing of this image is shown.";
            loadFeed();
            return;
          }
          viewer.className = "verified";
          $("verdict").textContent = `Signed by ${result.signed_by} (${result.fingerprint}), verified against the pinned CA ` +
            `${result.authority}; delivery statement checked. Posted by ${result.owner} on ${result.posted}, ${result.media_type}, ${size(result.size)}.`;
          const source = "/api/image?name=" + encodeURIComponent(name);
          $("picture").src = source;
          $("picture").alt = name;
          $("picture").hidden = false;
          $("download").href = source + "&download=1";
          $("download").hidden = false;
          loadFeed();
        }

        function uploadRow(name) {
          const entry = document.createElement("li");
          const bar = document.createElement("progress");
          bar.max = 1;
          bar.value = 0;
          bar.setAttribute("aria-label", "upload of " + name);
          const state = text("span", "waiting to upload", "state");
          entry.append(text("span", name, "name"), bar, state);
          $("uploads").prepend(entry);
          return { entry, bar, state, name };
        }

        function settle(row, result) {
          row.bar.value = 1;
          row.state.textContent = result.state === "accepted" ? "accepted" : `${result.state}: ${result.reason || ""}`;
          row.entry.className = result.state === "accepted" ? "accepted" : result.state === "sent" ? "sent" : "refused";
        }

        // Each file goes up alone, with its own progress; the id sealdrop keeps it by.
        function upload(file, row) {
          return new Promise((resolve, reject) => {
            const request = new XMLHttpRequest();
            request.open("POST", "/api/upload");
            request.setRequestHeader("X-CSRF-Token", csrf);
            request.setRequestHeader("X-Image-Name", encodeURIComponent(row.name));
            request.upload.onprogress = (event) => { if (event.lengthComputable) row.bar.value = event.loaded / event.total; };
            row.state.textContent = "uploading";
            request.onload = () => {
              let result = {};
              try { result = JSON.parse(request.responseText); } catch (error) { result = { error: request.statusText }; }
              if (request.status === 200 && result.upload) resolve(result.upload); else reject(new Error(result.error || request.statusText));
            };
            request.onerror = () => reject(new Error("sealdrop did not answer"));
            request.send(file);
          });
        }

        // Uploaded one by one, then posted together: sealed as one batch (one batch key, one
        // signature), as sealdrop post does a folder; the server's verdict comes back per file.
        async function postFiles(files) {
          const list = Array.from(files);
          const given = $("name").value.trim();
          $("name").value = "";
          const rows = list.map((file) => uploadRow(list.length === 1 && given ? given : file.name));
          const staged = [];
          for (let index = 0; index < list.length; index++) {
            try {
              staged.push({ row: rows[index], id: await upload(list[index], rows[index]) });
              rows[index].state.textContent = "uploaded";
            } catch (error) {
              settle(rows[index], { state: "failed", reason: error.message });
            }
          }
          if (staged.length === 0) return;
          for (const { row } of staged) {
            row.bar.removeAttribute("value");
            row.state.textContent = staged.length > 1 ? `sealing and signing with ${staged.length - 1} more, then waiting for the server` :
              "sealing and signing, then waiting for the server";
          }
          const response = await fetch("/api/post", {
            method: "POST", headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
            body: JSON.stringify({ uploads: staged.map((upload) => upload.id) })
          }).catch(() => null);
          const answer = response ? await json(response).catch((error) => ({ error: error.message })) : { error: "sealdrop did not answer" };
          for (const { row, id } of staged) {
            const result = (answer.results || []).find((candidate) => candidate.upload === id);
            settle(row, result || { state: "failed", reason: answer.error || "no answer for this file" });
          }
        }

        $("files").addEventListener("change", (event) => { postFiles(event.target.files); event.target.value = ""; });
        const drop = $("drop");
        drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
        drop.addEventListener("dragleave", () => drop.classList.remove("over"));
        drop.addEventListener("drop", (event) => { event.preventDefault(); drop.classList.remove("over"); postFiles(event.dataTransfer.files); });
        drop.addEventListener("keydown", (event) => { if (event.key === "Enter" || event.key === " ") { event.preventDefault(); $("files").click(); } });
        $("close").addEventListener("click", closeViewer);
        document.addEventListener("keydown", (event) => { if (event.key === "Escape" && !$("viewer").hidden) closeViewer(); });
        $("seen").addEventListener("click", markSeen);

        const events = new EventSource("/api/events");
        events.addEventListener("hello", () => { loadStatus(); loadFeed(); });
        events.addEventListener("seq", () => loadFeed());
        events.onerror = () => { $("status").textContent = "reconnecting to sealdrop…"; };
        document.addEventListener("visibilitychange", () => { if (!document.hidden) { loadStatus(); loadFeed(); } });
        setInterval(loadStatus, 30000);
        """#

    static let style = #"""
        :root { font-family: system-ui, sans-serif; color: #1b1b1b; background: #fafafa; }
        [hidden] { display: none !important; }
        *, *::before, *::after { box-sizing: border-box; }
        body { overflow-wrap: anywhere; }
        input[type="text"] { max-width: 100%; }
        body { margin: 0 auto; max-width: 60rem; padding: 0.5rem 1rem; }
        h1 { font-size: 1.4rem; margin: 0.5rem 0; }
        h2 { font-size: 1.1rem; }
        #status { font-size: 0.9rem; color: #444; overflow-wrap: anywhere; }
        #status.problem { color: #a00000; }
        .badge { background: #0b57d0; color: white; border-radius: 1rem; padding: 0 0.5rem; font-size: 0.8rem; }
        button, .button { font: inherit; padding: 0.3rem 0.8rem; border: 1px solid #555; border-radius: 0.3rem; background: white; color: inherit; cursor: pointer; text-decoration: none; }
        :focus-visible { outline: 3px solid #0b57d0; outline-offset: 2px; }
        .drop { border: 2px dashed #777; border-radius: 0.5rem; padding: 1rem; text-align: center; }
        .drop.over { background: #e8f0fe; }
        #files { position: absolute; width: 1px; height: 1px; opacity: 0; }
        #files:focus-visible + * , .drop:focus-within { outline: 3px solid #0b57d0; }
        ul { list-style: none; padding: 0; }
        #uploads li { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; padding: 0.2rem 0; }
        #uploads .accepted .state { color: #106010; }
        #uploads .refused .state { color: #a00000; }
        #uploads .sent .state { color: #7a5200; }
        #feed li { margin: 0.3rem 0; }
        #feed .item { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; width: 100%; text-align: left; }
        #feed .unseen .item { border-color: #0b57d0; border-width: 2px; }
        .name { font-weight: 600; overflow-wrap: anywhere; }
        .meta { color: #555; font-size: 0.85rem; }
        .thumb { width: 4rem; height: 4rem; object-fit: cover; }
        #viewer { border: 2px solid #777; border-radius: 0.5rem; padding: 0.5rem 1rem; margin: 1rem 0; }
        #viewer.verified { border-color: #106010; }
        #viewer.verified #verdict { color: #106010; }
        #viewer.failed { border-color: #a00000; background: #fff0f0; }
        #viewer.failed #verdict { color: #a00000; font-weight: 600; }
        #picture { max-width: 100%; height: auto; display: block; }
        @media (max-width: 420px) { body { padding: 0.25rem 0.5rem; } .thumb { width: 3rem; height: 3rem; } }
        """#
}
