/* authgate passkeys: the WebAuthn calls behind the portal's passkey buttons.
 *
 * A page marks a passkey box with data-passkey="create" (register) or "get" (sign in),
 * data-options and data-verify (the two calls), a csrf_token input (sent as X-CSRF-Token)
 * and optionally data-state, data-remember (the id of a checkbox) and a [data-passkey-name]
 * field. The box stays hidden where the browser cannot do WebAuthn. The script asks the
 * server for options, lets the browser create or use the passkey, posts the answer, and
 * navigates where the server says. No inline script anywhere: the CSP forbids it.
 */
(function () {
  "use strict";
  if (window.authgatePasskeys) {
    return;
  }
  window.authgatePasskeys = true;

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var padded = base64 + "===".slice((base64.length + 3) % 4);
    var raw = atob(padded);
    var bytes = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i += 1) {
      bytes[i] = raw.charCodeAt(i);
    }
    return bytes.buffer;
  }

  function toText(buffer) {
    var bytes = new Uint8Array(buffer);
    var raw = "";
    for (var i = 0; i < bytes.length; i += 1) {
      raw += String.fromCharCode(bytes[i]);
    }
    return btoa(raw).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function withIds(list) {
    return (list || []).map(function (item) {
      return Object.assign({}, item, { id: toBytes(item.id) });
    });
  }

  function creationOptions(options) {
    return Object.assign({}, options, {
      challenge: toBytes(options.challenge),
      user: Object.assign({}, options.user, { id: toBytes(options.user.id) }),
      excludeCredentials: withIds(options.excludeCredentials)
    });
  }

  function requestOptions(options) {
    return Object.assign({}, options, {
      challenge: toBytes(options.challenge),
      allowCredentials: withIds(options.allowCredentials)
    });
  }

  function answerOf(credential) {
    var response = credential.response;
    var answer = {
      id: credential.id,
      rawId: toText(credential.rawId),
      type: credential.type,
      authenticatorAttachment: credential.authenticatorAttachment || null,
      clientExtensionResults: credential.getClientExtensionResults(),
      response: { clientDataJSON: toText(response.clientDataJSON) }
    };
    if (response.attestationObject) {
      answer.response.attestationObject = toText(response.attestationObject);
      answer.response.transports = response.getTransports ? response.getTransports() : [];
    } else {
      answer.response.authenticatorData = toText(response.authenticatorData);
      answer.response.signature = toText(response.signature);
      answer.response.userHandle = response.userHandle ? toText(response.userHandle) : null;
    }
    return answer;
  }

  function post(url, csrf, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () {
        return {};
      }).then(function (data) {
        if (!response.ok) {
          throw new Error(data.error || "The server refused (" + response.status + ").");
        }
        return data;
      });
    });
  }

  function fields(box) {
    var body = { state: box.dataset.state || "" };
    var name = box.querySelector("[data-passkey-name]");
    if (name) {
      body.name = name.value;
    }
    var remember = box.dataset.remember && document.getElementById(box.dataset.remember);
    if (remember) {
      body.remember = remember.checked;
    }
    return body;
  }

  function run(box, button, error) {
    var token = box.querySelector("input[name=csrf_token]");
    var csrf = token ? token.value : "";
    var creating = box.dataset.passkey === "create";
    var body = fields(box);
    button.disabled = true;
    error.hidden = true;
    post(box.dataset.options, csrf, body)
      .then(function (options) {
        return creating
          ? navigator.credentials.create({ publicKey: creationOptions(options) })
          : navigator.credentials.get({ publicKey: requestOptions(options) });
      })
      .then(function (credential) {
        if (!credential) {
          throw new Error("No passkey was chosen.");
        }
        return post(box.dataset.verify, csrf, Object.assign(body, { credential: answerOf(credential) }));
      })
      .then(function (result) {
        window.location.assign(result.redirect);
      })
      .catch(function (problem) {
        var cancelled = problem && problem.name === "NotAllowedError";
        error.textContent = cancelled ? "The passkey request was cancelled or timed out." : String(problem.message || problem);
        error.hidden = false;
        button.disabled = false;
      });
  }

  function start() {
    if (!window.PublicKeyCredential || !navigator.credentials || !window.fetch) {
      return;
    }
    document.querySelectorAll("[data-passkey]").forEach(function (box) {
      var button = box.querySelector("[data-passkey-start]");
      var error = box.querySelector("[data-passkey-error]");
      if (!button || !error) {
        return;
      }
      box.hidden = false;
      button.addEventListener("click", function () {
        run(box, button, error);
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
