// Shows that scripts load and run.
document.getElementById("status").textContent = "JavaScript ran: wharf served it with the right type.";
