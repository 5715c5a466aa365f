// The console's one script, loaded from the console's own origin (its Content-Security-Policy
// allows no inline script). Progressive enhancement only: every page works without it.
//  * times: each <time datetime> is shown in the person's own time zone; the exact instant
//    stays in its title (on hover);
//  * copy buttons: <button data-copy="ID"> copies the value of the field ID;
//  * the mint form: picking an expiry date chooses the lifetime "until the date below" (the
//    server takes a date with the default lifetime too, and refuses it with another one).
'use strict';
document.addEventListener('DOMContentLoaded', () => {
  const format = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  for (const time of document.querySelectorAll('time[datetime]')) {
    const at = new Date(time.getAttribute('datetime'));
    if (!Number.isNaN(at.getTime())) time.textContent = format.format(at);
  }
  const expiresOn = document.getElementById('expiresOn');
  const lifetime = document.getElementById('lifetime');
  if (expiresOn && lifetime) {
    expiresOn.addEventListener('change', () => {
      if (expiresOn.value) lifetime.value = 'date';
    });
  }
  for (const button of document.querySelectorAll('button[data-copy]')) {
    button.addEventListener('click', async () => {
      const field = document.getElementById(button.dataset.copy);
      const status = button.parentElement.querySelector('.copied');
      if (!field) return;
      field.select();
      try {
        await navigator.clipboard.writeText(field.value);
        if (status) status.textContent = 'Copied.';
      } catch {
        if (status) status.textContent = 'Selected: press Ctrl+C to copy.';
      }
    });
  }
});
