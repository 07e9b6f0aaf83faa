const KEY = "deepscope.token";

/**
 * The access token: `?token=` of the page URL wins and is kept in sessionStorage (so reloads and
 * hash navigation keep it), then removed from the address bar.
 */
export function readToken(loc: Location = window.location): string | null {
  const fromUrl = new URLSearchParams(loc.search).get("token");
  if (fromUrl) {
    try {
      sessionStorage.setItem(KEY, fromUrl);
    } catch {
      /* storage disabled: the token lives for this page only */
    }
    const url = new URL(loc.href);
    url.searchParams.delete("token");
    try {
      history.replaceState(history.state, "", url.toString());
    } catch {
      /* file:// or sandboxed: leave the URL as it is */
    }
    return fromUrl;
  }
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}
