// The sign-in page's only script: a bookmarked view (/dashboard#progress)
// survives signing in. The fragment never reaches the server, so the redirect
// to /login drops it from `next`; the browser keeps it on this page's URL,
// and this puts it back into the form before it is sent.

(() => {
  const next = document.querySelector<HTMLInputElement>('input[name="next"]');
  const hash = window.location.hash;
  if (next && /^#[\w-]{1,64}$/.test(hash) && !next.value.includes('#')) {
    next.value += hash;
  }
})();
