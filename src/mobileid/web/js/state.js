// What the app remembers until logout: the session (token, operator, role), the reason for
// this shift and whether the training range is on. sessionStorage only: it dies with the tab,
// is never sent to the server by itself (unlike a cookie) and is cleared at logout.

const KEY = "mobileid";

function load() {
  try {
    return JSON.parse(sessionStorage.getItem(KEY)) || {};
  } catch {
    return {};
  }
}

export const state = load();

export function save(changes) {
  Object.assign(state, changes);
  sessionStorage.setItem(KEY, JSON.stringify(state));
}

export function clear() {
  for (const k of Object.keys(state)) delete state[k];
  sessionStorage.removeItem(KEY);
}
