// The site's script: asks the API mounted at /api for a greeting and shows it.
// Content-hashed name: cached for a year, replaced by a new name.
"use strict";

async function greet() {
  const target = document.querySelector("#greeting");
  if (target === null) {
    return;
  }
  try {
    const response = await fetch("/api/hello", {
      headers: { Accept: "application/json" },
    });
    if (!response.ok) {
      target.textContent = `The API answered ${response.status}.`;
      return;
    }
    const data = await response.json();
    target.textContent = `${data.message} (from the app mounted at ${data.script_name})`;
  } catch (error) {
    target.textContent = `The API could not be reached: ${error}`;
  }
}

document.addEventListener("DOMContentLoaded", greet);
