/* A table's CSV and Excel buttons: download the export of the page as it is now (its path
   and query) from the server's export route (dashboard/downloads.py, export_url). The
   button's Dash id is {"type": "export-button", "table": …, "format": …}. A hidden link
   saves the file without leaving the page. */
document.addEventListener("click", function (event) {
    var button = event.target.closest("button[id^='{']");
    if (!button) {
        return;
    }
    var id;
    try {
        id = JSON.parse(button.id);
    } catch (error) {
        return;
    }
    if (id.type !== "export-button") {
        return;
    }
    var query = new URLSearchParams({
        page: window.location.pathname,
        q: window.location.search.replace(/^\?/, ""),
    });
    var link = document.createElement("a");
    link.href = "/export/" + encodeURIComponent(id.table) + "." +
        encodeURIComponent(id.format) + "?" + query.toString();
    link.download = "";
    document.body.appendChild(link);
    link.click();
    link.remove();
});
